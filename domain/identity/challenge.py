"""The second step of an MFA login: short-lived, single-use, with a small attempt budget.

Only the SHA-256 of the challenge secret is stored. Each wrong code is an event, so the budget
holds across replicas and restarts; concurrent attempts race on the version like any command.
"""

from __future__ import annotations

import hmac
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.factor_errors import InvalidMfaChallengeError
from domain.shared.cause import Cause

CHALLENGE_TTL_SECONDS = 300
MAX_CHALLENGE_ATTEMPTS = 5


class MfaChallenge(Aggregate):
    """Issued by a correct password when a factor is active; redeemed once for a session."""

    TOPIC = "bitstride.identity.MfaChallenge"

    @event("Created", topic="bitstride.identity.MfaChallenge.Created")
    def __init__(self, *, id: UUID, user_id: UUID, secret_hash: str, issued_at: float,
                 expires_at: float, cause: Cause) -> None:
        self.user_id = user_id
        self.secret_hash = secret_hash
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.failed_attempts = 0
        self.completed_at: float | None = None
        self.last_cause = cause

    @classmethod
    def issue(cls, *, id: UUID, user_id: UUID, secret_hash: str, now: float,
              cause: Cause) -> MfaChallenge:
        return cls(id=id, user_id=user_id, secret_hash=secret_hash, issued_at=now,
                   expires_at=now + CHALLENGE_TTL_SECONDS, cause=cause)

    def is_open(self, now: float) -> bool:
        return (self.completed_at is None and now < self.expires_at
                and self.failed_attempts < MAX_CHALLENGE_ATTEMPTS)

    def check(self, presented_hash: str, now: float) -> None:
        """Refuse a wrong secret, or a challenge that is used, expired or out of attempts."""
        if not hmac.compare_digest(presented_hash.encode(), self.secret_hash.encode()):
            raise InvalidMfaChallengeError
        if not self.is_open(now):
            raise InvalidMfaChallengeError

    def fail(self, now: float, cause: Cause) -> None:
        """Spend one attempt on a wrong code."""
        if not self.is_open(now):
            raise InvalidMfaChallengeError
        self._failed(at=now, cause=cause)

    def complete(self, now: float, cause: Cause) -> None:
        if not self.is_open(now):
            raise InvalidMfaChallengeError
        self._completed(at=now, cause=cause)

    @event("Failed", topic="bitstride.identity.MfaChallenge.Failed")
    def _failed(self, at: float, cause: Cause) -> None:
        self.failed_attempts += 1
        self.last_cause = cause

    @event("Completed", topic="bitstride.identity.MfaChallenge.Completed")
    def _completed(self, at: float, cause: Cause) -> None:
        self.completed_at = at
        self.last_cause = cause
