"""Where ended sessions are listed for token verifiers: in process, or shared through Redis."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import redis

from infra.redis_outage import RedisOrLocal

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
    """Shared revocation list: one expiring key per ended session, so every replica sees it.

    Every revocation is also kept in this process's list, so it holds here while Redis is down,
    and one that could not reach Redis is written there once Redis answers again (for what is
    left of its TTL). While Redis is down this process does not see the revocations of others:
    their tokens keep working until they expire (ACCESS_TOKEN_TTL_SECONDS), the price of
    serving through the outage rather than refusing every token.
    """

    def __init__(self, client: redis.Redis, *, key_prefix: str = KEY_PREFIX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._prefix = key_prefix
        self._clock = clock
        self._local = InMemorySessionRevocations(clock)
        self._redis = RedisOrLocal("session revocations")
        self._unshared: dict[str, float] = {}  # session -> when its revocation expires
        self._lock = threading.Lock()

    def revoke(self, session_id: str, ttl_seconds: int) -> None:
        self._local.revoke(session_id, ttl_seconds)
        with self._lock:
            self._unshared[session_id] = self._clock() + ttl_seconds
        self._redis.call(self._share, lambda: None)

    def is_revoked(self, session_id: str) -> bool:
        if self._local.is_revoked(session_id):
            return True
        return self._redis.call(lambda: self._shared_revoked(session_id), lambda: False)

    def _shared_revoked(self, session_id: str) -> bool:
        if self._unshared:
            self._share()
        return bool(self._client.exists(self._prefix + session_id))

    def _share(self) -> None:
        """Write the revocations Redis does not have yet."""
        with self._lock:
            unshared = list(self._unshared.items())
        for session_id, expires in unshared:
            left = math.ceil(expires - self._clock())
            if left > 0:  # SET with EX is SETEX's non-deprecated spelling (redis-py 8)
                self._client.set(self._prefix + session_id, b"1", ex=left)
            with self._lock:
                if self._unshared.get(session_id) == expires:
                    del self._unshared[session_id]
