"""RateLimiter adapters: fixed windows in Redis (shared by replicas) or in process (embedded).

A window starts at a key's first hit and lasts `window_seconds`; the Redis count and its expiry
are set by one Lua script, so concurrent hits never lose a count or leave a key without TTL.

The in-process limiter also takes quotas (`consume`: several counters checked, then charged
together, or not at all; `adjust`: a correction after the fact) for the gateway's in-process
rate limits (infra/gateway/ratelimit.py), whose Redis twin runs the same rules in one script.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from application.identity.ports import RateLimiter, Window
from infra.redis_outage import RedisOrLocal, redis_client

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
    """Implements application.identity.ports.RateLimiter on Redis (INCR + EXPIRE in Lua).

    While Redis fails, this process counts alone (as without REDIS_URL): throttles still hold
    per process, and logins keep working."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._hit = client.register_script(_HIT)
        self._local = InMemoryRateLimiter()
        self._redis = RedisOrLocal("login throttles")

    def hit(self, key: str, window_seconds: int) -> Window:
        return self._redis.call(lambda: self._shared_hit(key, window_seconds),
                                lambda: self._local.hit(key, window_seconds))

    def peek(self, key: str) -> Window:
        return self._redis.call(lambda: self._shared_peek(key), lambda: self._local.peek(key))

    def _shared_hit(self, key: str, window_seconds: int) -> Window:
        count, ttl = self._hit(keys=[key], args=[max(1, window_seconds)])
        return Window(count=int(count), resets_in=int(ttl))

    def _shared_peek(self, key: str) -> Window:
        pipe = self._client.pipeline(transaction=True)
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = pipe.execute()
        if raw is None:
            return Window(count=0, resets_in=0)
        return Window(count=int(raw), resets_in=max(0, int(ttl)))


@dataclass(frozen=True)
class Charge:
    """`amount` to add to the counter `key`, refused if the counter would pass `limit`.

    The rule (the same in Redis, infra/gateway/ratelimit.py): refused when `limit > 0`, the
    window already counts something, and `count + amount > limit`. An empty window takes any
    single charge, so one request bigger than the whole limit runs alone in its window
    instead of being refused forever. `limit` 0 counts without ever refusing.
    """

    key: str
    amount: int
    limit: int = 0


@dataclass(frozen=True)
class Refusal:
    index: int  # which charge (position in the sequence given) was refused
    resets_in: int  # whole seconds until that counter's window ends (>= 1)


PRUNE_ABOVE = 10_000  # live keys past which expired ones are swept (at most once a second)


class InMemoryRateLimiter:
    """One process's counters, guarded by a lock; expired windows are pruned as they are seen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, ends_at)
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def hit(self, key: str, window_seconds: int) -> Window:
        now = self._clock()
        with self._lock:
            count, ends_at = self._live(key, now)
            if count == 0:
                ends_at = now + max(1, window_seconds)
            self._windows[key] = (count + 1, ends_at)
            self._maybe_prune(now)
            return Window(count=count + 1, resets_in=math.ceil(ends_at - now))

    def consume(self, charges: Sequence[Charge], window_seconds: int) -> Refusal | None:
        """Check every charge and, if none is refused, add them all; atomically."""
        now = self._clock()
        with self._lock:
            windows = [self._window(charge.key, now) for charge in charges]
            for index, (charge, window) in enumerate(zip(charges, windows, strict=True)):
                if window and charge.limit > 0 and window[0] > 0 \
                        and window[0] + charge.amount > charge.limit:
                    return Refusal(index=index, resets_in=max(1, math.ceil(window[1] - now)))
            for charge, window in zip(charges, windows, strict=True):
                if charge.amount > 0:
                    count, ends_at = window or (0, now + max(1, window_seconds))
                    self._windows[charge.key] = (count + charge.amount, ends_at)
            self._maybe_prune(now)
        return None

    def adjust(self, keys: Sequence[str], delta: int, window_seconds: int) -> None:
        """Add `delta` (may be negative; a count never goes below 0) to live windows; a
        positive delta on a key with no live window starts one."""
        now = self._clock()
        with self._lock:
            for key in keys:
                window = self._window(key, now)
                if window:
                    self._windows[key] = (max(0, window[0] + delta), window[1])
                elif delta > 0:
                    self._windows[key] = (delta, now + max(1, window_seconds))
            self._maybe_prune(now)

    def _window(self, key: str, now: float) -> tuple[int, float] | None:
        """The live window (count, ends_at), None when there is none (a count of 0 may live)."""
        window = self._windows.get(key)
        if window is None or window[1] <= now:
            self._windows.pop(key, None)
            return None
        return window

    def _maybe_prune(self, now: float) -> None:
        if len(self._windows) > PRUNE_ABOVE and now >= self._next_prune:
            self._prune(now)
            self._next_prune = now + 1.0

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
        return RedisRateLimiter(redis_client(redis_url))
    return InMemoryRateLimiter()
