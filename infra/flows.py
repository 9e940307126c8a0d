"""Pending provider-login flows: short-lived, single-use records, in process or in Redis.

Implements application.identity.ports.PendingFlowStore. Redis is needed as soon as more than
one auth-service replica serves callbacks, since the callback may reach another replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

KEY_PREFIX = "bitstride:oauth-flow:"
MAX_IN_MEMORY_FLOWS = 10_000


class InMemoryFlowStore:
    """A dict with expiry; bounded, so a flood of started logins cannot exhaust memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        now = self._clock()
        with self._lock:
            if len(self._items) >= MAX_IN_MEMORY_FLOWS:
                self._prune(now)
            if len(self._items) >= MAX_IN_MEMORY_FLOWS:  # all live: drop the oldest
                self._items.pop(next(iter(self._items)))
            self._items[key] = (now + ttl_seconds, value)

    def take(self, key: str) -> str | None:
        with self._lock:
            item = self._items.pop(key, None)
        if item is None or item[0] <= self._clock():
            return None
        return item[1]

    def _prune(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]


class RedisFlowStore:
    """One expiring key per flow; GETDEL makes taking it atomic across replicas."""

    def __init__(self, client: redis.Redis, *, key_prefix: str = KEY_PREFIX) -> None:
        self._client = client
        self._prefix = key_prefix

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._client.set(self._prefix + key, value.encode(), ex=max(1, ttl_seconds))

    def take(self, key: str) -> str | None:
        raw = self._client.getdel(self._prefix + key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)
