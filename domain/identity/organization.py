"""Per-organization access record: which sessions exist, and whether the org is closed.

A new session is appended here in the same save() as the session itself, so closing the
organization (a version race on this aggregate) can never miss a session started meanwhile.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.errors import OrganizationDeletedError
from domain.shared.cause import Cause
from domain.shared.ids import derived_id


def organization_access_id(org_id: UUID) -> UUID:
    return derived_id("org-access", str(org_id))


class OrganizationAccess(Aggregate):
    """Session index and closure flag for one organization, as seen by the auth service."""

    TOPIC = "bitstride.identity.OrganizationAccess"

    @staticmethod
    def create_id(org_id: UUID, **_: Any) -> UUID:
        return organization_access_id(org_id)

    @event("Created", topic="bitstride.identity.OrganizationAccess.Created")
    def __init__(self, *, org_id: UUID) -> None:
        self.org_id = org_id
        # session id hex -> unix expiry of its refresh token
        self.sessions: dict[str, float] = {}
        self.closed_at: float | None = None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def add_session(self, session_id: UUID, expires_at: float) -> None:
        if self.is_closed:
            raise OrganizationDeletedError
        self._session_added(session_id=session_id, expires_at=expires_at)

    def close(self, now: float, cause: Cause) -> None:
        """Idempotent: closing a closed organization changes nothing."""
        if not self.is_closed:
            self._closed(at=now, cause=cause)

    def sessions_alive_after(self, cutoff: float) -> list[UUID]:
        """Sessions whose refresh tokens (or recent access tokens) may still work after cutoff."""
        return [UUID(hex=sid) for sid, expires_at in self.sessions.items() if expires_at > cutoff]

    @event("SessionAdded", topic="bitstride.identity.OrganizationAccess.SessionAdded")
    def _session_added(self, session_id: UUID, expires_at: float) -> None:
        self.sessions = {**self.sessions, session_id.hex: expires_at}

    @event("Closed", topic="bitstride.identity.OrganizationAccess.Closed")
    def _closed(self, at: float, cause: Cause) -> None:
        self.closed_at = at
        self.closed_by = cause
