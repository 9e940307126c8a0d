"""The control plane's short-lived cache of API-key introspection results.

Entries are keyed by SHA-256 of the key, never the key itself, live at most `ttl` seconds
(≤ 30), and are dropped at once when the auth service pushes the key's id (revoked or
changed). A drop also invalidates introspections still in flight, so a result fetched before a
revocation can never be cached after it. An entry past half its ttl is `refresh_due`: the
introspector fetches it again in the background while requests go on with it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

MAX_TTL_SECONDS = 30.0
MAX_ENTRIES = 10_000
REFRESH_AFTER = 0.5  # of the ttl


@dataclass(frozen=True)
class ApiKeyGrant:
    """An active key as the auth service described it."""

    key_id: str
    org_id: UUID
    scopes: tuple[str, ...]
    project_id: UUID | None
    expires_at: float | None


@dataclass(frozen=True)
class _Entry:
    grant: ApiKeyGrant | None  # None: inactive (unknown, revoked, expired: terminal states)
    stored_at: float
    refresh_at: float


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyCache:
    """Thread-safe: drops arrive on the subscriber thread or inside an auth-service request."""

    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = max(0.0, min(ttl_seconds, MAX_TTL_SECONDS))
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int:
        """Take before introspecting; pass to `put` so a drop meanwhile discards the result."""
        with self._lock:
            return self._generation

    def get(self, digest: str) -> tuple[bool, ApiKeyGrant | None]:
        """(hit, grant): a hit with None means the key is known to be inactive."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False, None
            if self._clock() - entry.stored_at >= self.ttl:
                del self._entries[digest]
                return False, None
            return True, entry.grant

    def refresh_due(self, digest: str) -> bool:
        """Is the entry old enough to fetch again (in the background) before it expires?"""
        with self._lock:
            entry = self._entries.get(digest)
            return entry is not None and self._clock() >= entry.refresh_at

    def postpone_refresh(self, digest: str) -> None:
        """A background fetch failed: try no other before the entry expires."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries[digest] = _Entry(entry.grant, entry.stored_at,
                                               entry.stored_at + self.ttl)

    def put(self, digest: str, grant: ApiKeyGrant | None, generation: int) -> None:
        with self._lock:
            if self.ttl <= 0 or generation != self._generation:
                return
            now = self._clock()
            self._entries[digest] = _Entry(grant, now, now + self.ttl * REFRESH_AFTER)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def drop_key(self, key_id: str) -> None:
        """The auth service says this key changed: forget it (and anything in flight)."""
        with self._lock:
            self._generation += 1
            for digest in [d for d, e in self._entries.items()
                           if e.grant is not None and e.grant.key_id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
