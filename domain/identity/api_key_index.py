"""Which keys an organization has, in creation order: what the key list pages over.

Saved in the same save() as the key's creation or revocation, so the list never misses a key
and never shows a revoked one; listing loads this one aggregate plus the keys on the page
(cheaper than a projection for a few hundred keys, and consistent without waiting).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.api_key_errors import TooManyApiKeysError
from domain.shared.cause import Cause
from domain.shared.ids import derived_id

MAX_ACTIVE_KEYS = 200


def api_key_index_id(org_id: UUID) -> UUID:
    return derived_id("api-key-index", str(org_id))


class ApiKeyIndex(Aggregate):
    """Key ids of one organization, oldest first; revoked ones stay as page cursors."""

    TOPIC = "bitstride.identity.ApiKeyIndex"

    @staticmethod
    def create_id(org_id: UUID, **_: Any) -> UUID:
        return api_key_index_id(org_id)

    @event("Created", topic="bitstride.identity.ApiKeyIndex.Created")
    def __init__(self, *, org_id: UUID, cause: Cause) -> None:
        self.org_id = org_id
        self.key_ids: list[str] = []
        self.revoked_ids: list[str] = []
        self.last_cause = cause

    @property
    def active_count(self) -> int:
        return len(self.key_ids) - len(self.revoked_ids)

    def add(self, key_id: UUID, cause: Cause) -> None:
        if self.active_count >= MAX_ACTIVE_KEYS:
            raise TooManyApiKeysError(MAX_ACTIVE_KEYS)
        if key_id.hex not in self.key_ids:
            self._added(key_id=key_id.hex, cause=cause)

    def remove(self, key_id: UUID, cause: Cause) -> None:
        if key_id.hex in self.key_ids and key_id.hex not in self.revoked_ids:
            self._removed(key_id=key_id.hex, cause=cause)

    def page(self, *, after: UUID | None, limit: int) -> tuple[list[UUID], bool]:
        """Active keys newest first, after the given id (which may since have been revoked)."""
        newest_first = list(reversed(self.key_ids))
        if after is not None:
            if after.hex not in newest_first:
                return [], False
            newest_first = newest_first[newest_first.index(after.hex) + 1:]
        revoked = set(self.revoked_ids)
        active = [k for k in newest_first if k not in revoked]
        return [UUID(hex=k) for k in active[:limit]], len(active) > limit

    @event("KeyAdded", topic="bitstride.identity.ApiKeyIndex.KeyAdded")
    def _added(self, key_id: str, cause: Cause) -> None:
        self.key_ids = [*self.key_ids, key_id]
        self.last_cause = cause

    @event("KeyRevoked", topic="bitstride.identity.ApiKeyIndex.KeyRevoked")
    def _removed(self, key_id: str, cause: Cause) -> None:
        self.revoked_ids = [*self.revoked_ids, key_id]
        self.last_cause = cause
