"""A single-use email verification token, found by the SHA-256 of the token it was sent as.

The aggregate id is derived from the hash, so a link resolves in one read and the raw token is
never stored. Used or expired tokens fail like unknown ones.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.factor_errors import InvalidVerificationTokenError
from domain.shared.cause import Cause
from domain.shared.ids import derived_id

VERIFICATION_TTL_SECONDS = 24 * 3600


def email_verification_id(token_hash: str) -> UUID:
    return derived_id("email-verification", token_hash)


class EmailVerification(Aggregate):
    """One verification link sent to one address of one user."""

    TOPIC = "bitstride.identity.EmailVerification"

    @staticmethod
    def create_id(token_hash: str, **_: Any) -> UUID:
        return email_verification_id(token_hash)

    @event("Created", topic="bitstride.identity.EmailVerification.Created")
    def __init__(self, *, token_hash: str, user_id: UUID, email: str, issued_at: float,
                 expires_at: float, cause: Cause) -> None:
        self.token_hash = token_hash
        self.user_id = user_id
        self.email = email
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.used_at: float | None = None
        self.last_cause = cause

    @classmethod
    def issue(cls, *, token_hash: str, user_id: UUID, email: str, now: float,
              cause: Cause) -> EmailVerification:
        return cls(token_hash=token_hash, user_id=user_id, email=email, issued_at=now,
                   expires_at=now + VERIFICATION_TTL_SECONDS, cause=cause)

    def use(self, now: float, cause: Cause) -> None:
        """Spend the token; a second use or a late one fails like an unknown token."""
        if self.used_at is not None or now >= self.expires_at:
            raise InvalidVerificationTokenError
        self._used(at=now, cause=cause)

    @event("Used", topic="bitstride.identity.EmailVerification.Used")
    def _used(self, at: float, cause: Cause) -> None:
        self.used_at = at
        self.last_cause = cause
