"""Redis with a fallback: while Redis fails, the caller's in-process answer is used instead.

Redis only shares state between processes (session revocations, login throttles); each of its
users keeps an in-process equivalent, the one it runs without REDIS_URL. After a failure Redis
is not tried again for COOLDOWN_SECONDS, so an outage costs no connection attempts on the
request path; the outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis
import structlog

log = structlog.get_logger("bitstride.redis")

COOLDOWN_SECONDS = 1.0
TIMEOUT_SECONDS = 1.0
T = TypeVar("T")


def redis_client(url: str) -> redis.Redis:
    """A client that gives up within a second: an unreachable host (no answer at all, not a
    refusal) would otherwise hold a request for the OS's connect timeout."""
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS,
                                socket_connect_timeout=TIMEOUT_SECONDS)


class RedisOrLocal:
    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self._clock = what, clock
        self._skip_until = 0.0
        self.down = False

    def call(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """`shared()` (on Redis), or `local()` when Redis fails or failed a moment ago."""
        if self._clock() < self._skip_until:
            return local()
        try:
            result = shared()
        except redis.RedisError as error:
            self._skip_until = self._clock() + COOLDOWN_SECONDS
            if not self.down:
                self.down = True
                log.error("redis_unavailable", using=f"this process's {self.what}",
                          error_class=type(error).__name__)
            return local()
        if self.down:
            self.down = False
            log.info("redis_recovered", using=f"shared {self.what}")
        return result
