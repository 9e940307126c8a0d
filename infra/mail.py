"""Mailer adapters: SMTP when SMTP_URL is set, else an outbox of .eml files for `make run`.

Only the outbox logs a message's link (a developer has to click it somewhere); the SMTP
adapter logs the recipient's domain and never the body, which carries a token.
"""

from __future__ import annotations

import secrets
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import structlog

from application.identity.ports import Mailer, MailMessage

log = structlog.get_logger("bitstride.mail")


def _email(message: MailMessage, mail_from: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain="bitstride.local")
    mail.set_content(message.text, cte="8bit")  # unwrapped, so a link can be grepped out
    return mail


class OutboxMailer:
    """Writes each message to `<data_dir>/outbox/<time>-<random>.eml` and logs path and link."""

    def __init__(self, directory: Path, mail_from: str) -> None:
        self.directory = directory
        self._from = mail_from

    def send(self, message: MailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        path = self.directory / name
        path.write_bytes(bytes(_email(message, self._from)))
        log.info("mail_written_to_outbox", path=str(path), to=message.to, link=message.link)


class SmtpMailer:
    """stdlib smtplib; `smtps://` is implicit TLS (465), `smtp://` upgrades with STARTTLS
    whenever the server offers it (587/25). Credentials come from the URL's userinfo."""

    def __init__(self, url: str, mail_from: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://...")
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._from = mail_from
        self._timeout = timeout

    def send(self, message: MailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._tls:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            smtp.ehlo()
            if not self._tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if self._user is not None:
                smtp.login(self._user, self._password or "")
            smtp.send_message(_email(message, self._from))
        log.info("mail_sent", to_domain=message.to.rpartition("@")[2], subject=message.subject)


def build_mailer(smtp_url: str | None, mail_from: str, outbox: Path) -> Mailer:
    if smtp_url:
        return SmtpMailer(smtp_url, mail_from)
    return OutboxMailer(outbox, mail_from)
