"""Rules for what users type in: email shape and password length (never stored raw)."""

from __future__ import annotations

from domain.shared.errors import ValidationFailedError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
MAX_NAME_LENGTH = 200


def normalize_email(raw: str) -> str:
    """Lower-cased and trimmed, so one mailbox is one account whatever its spelling."""
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(email) > MAX_EMAIL_LENGTH
        or any(ch.isspace() for ch in email)
    ):
        raise ValidationFailedError("Enter a valid email address.", param="email")
    return email


def normalize_name(raw: str) -> str:
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailedError(
            f"The name must be at most {MAX_NAME_LENGTH} characters.", param="name"
        )
    return name


def password_length_ok(password: str) -> bool:
    return MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH


def check_new_password(password: str) -> None:
    """OWASP ASVS 6.2: 8 to 1024 characters, no composition rules."""
    if not password_length_ok(password):
        raise ValidationFailedError(
            f"The password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            param="password",
        )
