"""A login session and its refresh-token family (rotation with reuse detection).

Only SHA-256 hashes of refresh tokens are kept. A hash is current or used; presenting a used one
means the token was copied, so the whole session is revoked (OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

import hmac
from enum import Enum, StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.errors import InvalidRefreshTokenError
from domain.shared.cause import Cause


class RevocationReason(StrEnum):
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    ORGANIZATION_CLOSED = "organization_closed"


class RefreshOutcome(Enum):
    ROTATED = "rotated"
    REUSE_DETECTED = "reuse_detected"


class Session(Aggregate):
    """One login of one user into one organization, refreshed until expiry or revocation."""

    TOPIC = "bitstride.identity.Session"

    @event("Created", topic="bitstride.identity.Session.Created")
    def __init__(self, *, id: UUID, user_id: UUID, org_id: UUID, refresh_hash: str,
                 issued_at: float, expires_at: float, cause: Cause) -> None:
        self.user_id = user_id
        self.org_id = org_id
        self.refresh_hash = refresh_hash
        self.used_hashes: list[str] = []
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.refreshed_at = issued_at
        self.revoked_at: float | None = None
        self.revoked_reason: str | None = None
        self.last_cause = cause

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at

    def is_active(self, now: float) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    def knows_refresh_hash(self, presented_hash: str) -> bool:
        """True for the current hash or any earlier one of this session's family."""
        return self._is_current(presented_hash) or presented_hash in self.used_hashes

    def refresh(self, presented_hash: str, new_hash: str, now: float,
                cause: Cause) -> RefreshOutcome:
        """Rotate to `new_hash`; a used hash revokes the session instead (save it, then fail)."""
        if self.is_revoked:
            raise InvalidRefreshTokenError
        if presented_hash in self.used_hashes:
            self._revoked(reason=RevocationReason.REFRESH_TOKEN_REUSED.value, at=now, cause=cause)
            return RefreshOutcome.REUSE_DETECTED
        if not self._is_current(presented_hash) or self.is_expired(now):
            raise InvalidRefreshTokenError
        if new_hash == presented_hash or new_hash in self.used_hashes:
            raise ValueError("a rotated refresh token must be new")
        self._refreshed(refresh_hash=new_hash, at=now, cause=cause)
        return RefreshOutcome.ROTATED

    def revoke(self, reason: RevocationReason, now: float, cause: Cause) -> bool:
        """End the session; idempotent, returns whether this call ended it."""
        if self.is_revoked:
            return False
        self._revoked(reason=reason.value, at=now, cause=cause)
        return True

    def _is_current(self, presented_hash: str) -> bool:
        return hmac.compare_digest(presented_hash.encode(), self.refresh_hash.encode())

    @event("Refreshed", topic="bitstride.identity.Session.Refreshed")
    def _refreshed(self, refresh_hash: str, at: float, cause: Cause) -> None:
        self.used_hashes = [*self.used_hashes, self.refresh_hash]
        self.refresh_hash = refresh_hash
        self.refreshed_at = at
        self.last_cause = cause

    @event("Revoked", topic="bitstride.identity.Session.Revoked")
    def _revoked(self, reason: str, at: float, cause: Cause) -> None:
        self.revoked_at = at
        self.revoked_reason = reason
        self.last_cause = cause
