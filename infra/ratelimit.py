"""RateLimiter adapters: fixed windows in Redis (shared by replicas) or in process (embedded).

A window starts at a key's first hit and lasts `window_seconds`; the Redis count and its expiry
are set by one Lua script, so concurrent hits never lose a count or leave a key without TTL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import redis

from application.identity.ports import RateLimiter, Window

_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Implements application.identity.ports.RateLimiter on Redis (INCR + EXPIRE in Lua)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._hit = client.register_script(_HIT)

    def hit(self, key: str, window_seconds: int) -> Window:
        count, ttl = self._hit(keys=[key], args=[max(1, window_seconds)])
        return Window(count=int(count), resets_in=int(ttl))

    def peek(self, key: str) -> Window:
        pipe = self._client.pipeline(transaction=True)
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = pipe.execute()
        if raw is None:
            return Window(count=0, resets_in=0)
        return Window(count=int(raw), resets_in=max(0, int(ttl)))


class InMemoryRateLimiter:
    """One process's counters, guarded by a lock; expired windows are pruned as they are seen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, ends_at)
        self._lock = threading.Lock()

    def hit(self, key: str, window_seconds: int) -> Window:
        now = self._clock()
        with self._lock:
            count, ends_at = self._live(key, now)
            if count == 0:
                ends_at = now + max(1, window_seconds)
            self._windows[key] = (count + 1, ends_at)
            if len(self._windows) > 10_000:
                self._prune(now)
            return Window(count=count + 1, resets_in=math.ceil(ends_at - now))

    def peek(self, key: str) -> Window:
        now = self._clock()
        with self._lock:
            count, ends_at = self._live(key, now)
        return Window(count=count, resets_in=max(0, math.ceil(ends_at - now)))

    def _live(self, key: str, now: float) -> tuple[int, float]:
        count, ends_at = self._windows.get(key, (0, now))
        if ends_at <= now:
            self._windows.pop(key, None)
            return 0, now
        return count, ends_at

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, ends_at) in self._windows.items() if ends_at <= now]:
            del self._windows[key]


def build_rate_limiter(redis_url: str | None) -> RateLimiter:
    if redis_url:
        return RedisRateLimiter(redis.Redis.from_url(redis_url))
    return InMemoryRateLimiter()
