"""Session revocations and login throttles while Redis is down: this process's own list and
counters answer, and a revocation made meanwhile reaches Redis once it is back."""

from __future__ import annotations

import time

import redis

from infra.auth.revocations import RedisSessionRevocations
from infra.ratelimit import RedisRateLimiter
from tests.support.private_servers import PrivateRedis, private_redis

__all__ = ["private_redis"]

DEADLINE_SECONDS = 10.0


def test_revocations_fall_back_and_are_shared_once_redis_is_back(
        private_redis: PrivateRedis) -> None:
    here = RedisSessionRevocations(redis.Redis.from_url(private_redis.url))
    elsewhere = RedisSessionRevocations(redis.Redis.from_url(private_redis.url))
    private_redis.stop()

    here.revoke("sess-a", 60)  # no error: kept here, shared later
    assert here.is_revoked("sess-a")
    assert not here.is_revoked("sess-b")  # Redis down: only this process's list counts

    private_redis.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not elsewhere.is_revoked("sess-a"):
        here.is_revoked("sess-b")  # any call that reaches Redis again writes what it missed
        assert time.monotonic() < deadline, "the revocation never reached Redis"
        time.sleep(0.05)
    ttl = redis.Redis.from_url(private_redis.url).ttl("bitstride:revoked-session:sess-a")
    assert 0 < ttl <= 60


def test_login_throttles_count_in_process_while_redis_is_down(
        private_redis: PrivateRedis) -> None:
    limiter = RedisRateLimiter(redis.Redis.from_url(private_redis.url))
    assert limiter.hit("login:ada", 60).count == 1
    private_redis.stop()
    assert [limiter.hit("login:ada", 60).count for _ in range(3)] == [1, 2, 3]
    assert limiter.peek("login:ada").count == 3
