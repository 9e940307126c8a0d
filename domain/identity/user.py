"""A registered person. Holds the argon2id hash of the password, never the password.

Users who signed up through a provider have no password: their hash is "" and password
login refuses them (an empty string is not a valid argon2 hash).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.credentials import normalize_email, normalize_name
from domain.shared.cause import Cause
from domain.tenancy.ids import personal_organization_id


class User(Aggregate):
    """Identity of one person; the personal organization id is derived from the user id."""

    TOPIC = "bitstride.identity.User"

    @classmethod
    def register(cls, *, user_id: UUID, email: str, name: str, password_hash: str,
                 registered_at: float, cause: Cause) -> User:
        return cls(id=user_id, email=normalize_email(email), name=normalize_name(name),
                   password_hash=password_hash, registered_at=registered_at, cause=cause)

    @classmethod
    def register_external(cls, *, user_id: UUID, email: str, name: str, registered_at: float,
                          cause: Cause) -> User:
        """The same `Created` event (so the personal organization opens), with no password."""
        return cls(id=user_id, email=normalize_email(email), name=normalize_name(name),
                   password_hash="", registered_at=registered_at, cause=cause)

    @event("Created", topic="bitstride.identity.User.Created")
    def __init__(self, *, id: UUID, email: str, name: str, password_hash: str,
                 registered_at: float, cause: Cause) -> None:
        self.email = email
        self.name = name
        self.password_hash = password_hash
        self.registered_at = registered_at
        self.email_verified_at: float | None = None
        self.last_cause = cause

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def organization_id(self) -> UUID:
        return personal_organization_id(self.id)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def verify_email(self, email: str, now: float, cause: Cause) -> bool:
        """Mark `email` verified if it is still this user's address; returns whether it changed."""
        if email != self.email or self.email_verified:
            return False
        self._email_verified(email=email, at=now, cause=cause)
        return True

    def rehash_password(self, password_hash: str, cause: Cause) -> None:
        """Replace the hash after a login when the hashing parameters were strengthened."""
        if password_hash != self.password_hash:
            self._password_rehashed(password_hash=password_hash, cause=cause)

    @event("PasswordRehashed", topic="bitstride.identity.User.PasswordRehashed")
    def _password_rehashed(self, password_hash: str, cause: Cause) -> None:
        self.password_hash = password_hash
        self.last_cause = cause

    @event("EmailVerified", topic="bitstride.identity.User.EmailVerified")
    def _email_verified(self, email: str, at: float, cause: Cause) -> None:
        self.email_verified_at = at
        self.last_cause = cause
