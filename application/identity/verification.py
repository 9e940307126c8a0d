"""Email verification: a single-use link mailed at registration, redeemed, and resent on request.

Only the SHA-256 of each link's token is recorded. A resend answers the same whether or not
the address has an account; its lookup and mail run after the response (see the route).
"""

from __future__ import annotations

from uuid import UUID

import structlog

from application.identity.codes import new_verification_token, sha256_hex
from application.identity.ports import Mailer, MailMessage
from application.identity.service import IdentityService
from application.identity.throttle import VERIFY_RESENDS_PER_EMAIL, VERIFY_RESENDS_PER_IP, Throttle
from application.shared.base import retry_on_conflict
from domain.identity.credentials import normalize_email
from domain.identity.email_index import EmailIndex, email_index_id
from domain.identity.factor_errors import InvalidVerificationTokenError
from domain.identity.user import User
from domain.identity.verification import EmailVerification, email_verification_id
from domain.shared.cause import Cause
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import format_id

log = structlog.get_logger("bitstride.auth.verification")

MAX_TOKEN_LENGTH = 128
SUBJECT = "Verify your Bitstride email address"


def throttle_subject(email: str) -> str:
    """The normalized email, or the trimmed input when it is not an email at all."""
    try:
        return normalize_email(email)
    except ValidationFailedError:
        return email.strip().lower()


class EmailVerifications:
    """Issues, redeems and resends verification links."""

    def __init__(self, identity: IdentityService, mailer: Mailer, throttle: Throttle,
                 base_url: str) -> None:
        self._identity = identity
        self._mailer = mailer
        self._throttle = throttle
        self._base_url = base_url.rstrip("/")

    def send(self, user_id: UUID, now: float, *, request_id: str | None = None) -> bool:
        """Record a new token and mail its link; False when already verified or mail failed."""
        user = self._identity.user(user_id)
        if user.email_verified:
            return False
        token = new_verification_token()
        cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
        self._identity.save(EmailVerification.issue(
            token_hash=sha256_hex(token), user_id=user.id, email=user.email, now=now,
            cause=cause))
        link = f"{self._base_url}/v1/auth/verify?token={token}"
        text = (f"Hello {user.name or user.email},\n\nConfirm your email address by opening "
                f"this link within 24 hours:\n\n{link}\n\nIf you did not sign up for Bitstride, "
                "ignore this message.\n")
        try:
            self._mailer.send(MailMessage(to=user.email, subject=SUBJECT, text=text, link=link))
        except OSError as error:  # smtplib's errors are OSErrors; the user can ask again
            log.error("verification_mail_failed", user_id=format_id("user", user.id),
                      error_class=type(error).__name__)
            return False
        return True

    def verify(self, token: str, now: float, *, request_id: str | None = None) -> bool:
        """Spend the token and mark the address verified; returns whether it already was."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidVerificationTokenError

        def attempt() -> bool:
            verification = self._identity.get_or_none(email_verification_id(sha256_hex(token)))
            if not isinstance(verification, EmailVerification):
                raise InvalidVerificationTokenError
            user = self._identity.user(verification.user_id)
            if verification.email != user.email:
                raise InvalidVerificationTokenError
            cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
            verification.use(now, cause)
            changed = user.verify_email(verification.email, now, cause)
            self._identity.save(verification, user)
            return not changed

        return retry_on_conflict(attempt)

    def accept_resend(self, email: str, client_ip: str) -> None:
        """Throttle a resend request (per address and per client); raises ThrottledError."""
        self._throttle.consume(VERIFY_RESENDS_PER_IP, client_ip)
        self._throttle.consume(VERIFY_RESENDS_PER_EMAIL, throttle_subject(email))

    def resend(self, email: str, now: float, *, request_id: str | None = None) -> None:
        """Mail a fresh link if the address belongs to an unverified user; else nothing."""
        user = self._user_by_email(email)
        if user is not None and not user.email_verified:
            self.send(user.id, now, request_id=request_id)

    def _user_by_email(self, email: str) -> User | None:
        try:
            claim = self._identity.get_or_none(email_index_id(normalize_email(email)))
        except ValidationFailedError:
            return None
        if not isinstance(claim, EmailIndex):
            return None
        user = self._identity.get_or_none(claim.user_id)
        return user if isinstance(user, User) else None
