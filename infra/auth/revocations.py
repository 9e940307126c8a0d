"""Where ended sessions are listed for token verifiers: in process, or shared through Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

KEY_PREFIX = "bitstride:revoked-session:"


class InMemorySessionRevocations:
    """Single-process revocation list; entries disappear after their TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, session_id: str, ttl_seconds: int) -> None:
        now = self._clock()
        with self._lock:
            self._expiry[session_id] = max(self._expiry.get(session_id, now), now + ttl_seconds)
            if len(self._expiry) > 1024:
                self._prune(now)

    def is_revoked(self, session_id: str) -> bool:
        with self._lock:
            expires = self._expiry.get(session_id)
            if expires is None:
                return False
            if expires <= self._clock():
                del self._expiry[session_id]
                return False
            return True

    def _prune(self, now: float) -> None:
        for sid in [sid for sid, expires in self._expiry.items() if expires <= now]:
            del self._expiry[sid]


class RedisSessionRevocations:
    """Shared revocation list: one expiring key per ended session, so every replica sees it."""

    def __init__(self, client: redis.Redis, *, key_prefix: str = KEY_PREFIX) -> None:
        self._client = client
        self._prefix = key_prefix

    def revoke(self, session_id: str, ttl_seconds: int) -> None:
        # SET with EX is SETEX's non-deprecated spelling (redis-py 8 warns on setex).
        self._client.set(self._prefix + session_id, b"1", ex=max(1, ttl_seconds))

    def is_revoked(self, session_id: str) -> bool:
        return bool(self._client.exists(self._prefix + session_id))
