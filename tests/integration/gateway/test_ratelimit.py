"""The gateway's request limiter: one contract in process and on a real Redis, plus Redis down."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
from structlog.testing import capture_logs

from application.gateway.ports import RateDecision
from infra.gateway.factory import build_gateway_accounting
from infra.gateway.ratelimit import (
    InProcessRequestLimiter,
    RateLimits,
    RedisRequestLimiter,
)
from infra.settings import Settings
from tests.unit.identity.fakes import FakeClock

T = TypeVar("T")
Limiter = InProcessRequestLimiter | RedisRequestLimiter
MakeLimiter = Callable[..., Limiter]


def run(limiter: Limiter, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` on a fresh loop, then close the limiter's connections on it."""
    async def body() -> T:
        try:
            return await work()
        finally:
            if isinstance(limiter, RedisRequestLimiter):
                await limiter.aclose()
    return asyncio.run(body())


def admit(limiter: Limiter, org: str, key: str | None = None, tokens: int = 0) -> RateDecision:
    return run(limiter, lambda: limiter.admit(org_id=org, key_id=key, estimated_tokens=tokens))


def settle(limiter: Limiter, org: str, key: str | None, estimated: int, actual: int) -> None:
    run(limiter, lambda: limiter.settle(org_id=org, key_id=key, estimated_tokens=estimated,
                                        actual_tokens=actual))


def org() -> str:
    return f"org_{uuid.uuid4().hex}"


def closed_port_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on (just released)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make(request: pytest.FixtureRequest) -> Iterator[MakeLimiter]:
    if request.param == "memory":
        yield lambda **limits: InProcessRequestLimiter(RateLimits(**limits))
        return
    url, prefix = request.getfixturevalue("redis_url"), f"bitstride:test:gw:{uuid.uuid4().hex}"
    yield lambda **limits: RedisRequestLimiter(url, RateLimits(**limits), prefix=prefix)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_requests_per_minute_per_key(make: MakeLimiter) -> None:
    limiter, o = make(key_rpm=3), org()
    assert [admit(limiter, o, "key_a").allowed for _ in range(3)] == [True] * 3
    refused = admit(limiter, o, "key_a")
    assert (refused.allowed, refused.limit) == (False, "key_requests")
    assert 1 <= refused.retry_after_seconds <= 60
    assert admit(limiter, o, "key_b").allowed  # another key has its own count
    assert admit(limiter, o, None).allowed  # a user token has no key limit


def test_requests_per_minute_per_org_count_keys_and_user_tokens(make: MakeLimiter) -> None:
    limiter, o = make(org_rpm=4), org()
    assert admit(limiter, o, "key_a").allowed and admit(limiter, o, "key_a").allowed
    assert admit(limiter, o, "key_b").allowed and admit(limiter, o, None).allowed
    for key in ("key_c", None):
        decision = admit(limiter, o, key)
        assert (decision.allowed, decision.limit) == (False, "org_requests")
    assert admit(limiter, org(), "key_a").allowed  # another organization


def test_a_refused_request_charges_no_counter(make: MakeLimiter) -> None:
    limiter, o = make(key_rpm=1, org_rpm=2), org()
    assert admit(limiter, o, "key_a").allowed
    assert admit(limiter, o, "key_a").limit == "key_requests"  # not counted for the org
    assert admit(limiter, o, "key_b").allowed
    assert admit(limiter, o, "key_c").limit == "org_requests"


def test_tokens_per_minute_track_the_settled_usage(make: MakeLimiter) -> None:
    limiter, o = make(key_tpm=100, org_tpm=1000), org()
    assert admit(limiter, o, "key_a", tokens=60).allowed
    refused = admit(limiter, o, "key_a", tokens=60)  # 120 > 100
    assert (refused.allowed, refused.limit) == (False, "key_tokens")
    settle(limiter, o, "key_a", estimated=60, actual=10)  # the estimate was pessimistic
    assert admit(limiter, o, "key_a", tokens=60).allowed  # 10 + 60
    settle(limiter, o, "key_a", estimated=60, actual=85)  # 10 + 85 = 95
    assert admit(limiter, o, "key_a", tokens=6).limit == "key_tokens"  # 101 > 100
    assert admit(limiter, o, "key_a", tokens=5).allowed  # exactly 100


def test_org_tokens_and_a_correction_never_below_zero(make: MakeLimiter) -> None:
    limiter, o = make(org_tpm=50), org()
    assert admit(limiter, o, None, tokens=40).allowed
    settle(limiter, o, None, estimated=40, actual=0)
    settle(limiter, o, None, estimated=500, actual=0)  # a stray correction: clamped at 0
    assert admit(limiter, o, "key_a", tokens=50).allowed  # 0 + 50, not -460 + 50
    assert admit(limiter, o, "key_b", tokens=1).limit == "org_tokens"


def test_a_request_bigger_than_the_limit_runs_alone_in_an_empty_window(
        make: MakeLimiter) -> None:
    limiter, o = make(key_tpm=100), org()
    assert admit(limiter, o, "key_a", tokens=500).allowed
    assert admit(limiter, o, "key_a", tokens=1).limit == "key_tokens"


def test_no_limit_configured_admits_everything(make: MakeLimiter) -> None:
    limiter, o = make(), org()
    assert all(admit(limiter, o, "key_a", tokens=10**9).allowed for _ in range(50))


def test_concurrent_admissions_never_pass_the_limit(make: MakeLimiter) -> None:
    limiter, o = make(key_rpm=10, org_tpm=10_000), org()

    async def crowd() -> list[RateDecision]:
        return await asyncio.gather(*(limiter.admit(org_id=o, key_id="key_a",
                                                    estimated_tokens=100) for _ in range(40)))

    assert sum(d.allowed for d in run(limiter, crowd)) == 10


@pytest.mark.redis
def test_two_processes_share_the_counts(redis_url: str) -> None:
    prefix, o = f"bitstride:test:gw:{uuid.uuid4().hex}", org()
    first, second = (RedisRequestLimiter(redis_url, RateLimits(key_rpm=4, org_tpm=300),
                                         prefix=prefix) for _ in range(2))
    assert admit(first, o, "key_a", 100).allowed and admit(second, o, "key_a", 100).allowed
    assert admit(first, o, "key_a", 100).allowed
    assert admit(second, o, "key_a", 1).limit == "org_tokens"  # 301 > 300, on either one
    settle(first, o, "key_a", estimated=100, actual=50)
    assert admit(second, o, "key_a", 1).allowed  # the correction is shared too
    assert admit(first, o, "key_a", 1).limit == "key_requests"  # 5th request in the minute

    async def crowd(limiter: RedisRequestLimiter, key: str) -> list[RateDecision]:
        return await asyncio.gather(*(limiter.admit(org_id=o, key_id=key, estimated_tokens=0)
                                      for _ in range(10)))

    async def both() -> list[RateDecision]:  # two limiters at once on one key
        try:
            a, b = await asyncio.gather(crowd(first, "key_z"), crowd(second, "key_z"))
            return a + b
        finally:
            await first.aclose()
            await second.aclose()

    assert sum(d.allowed for d in asyncio.run(both())) == 4


@pytest.mark.redis
def test_retry_after_is_what_is_left_of_the_window(redis_url: str) -> None:
    prefix, o = f"bitstride:test:gw:{uuid.uuid4().hex}", org()
    limiter = RedisRequestLimiter(redis_url, RateLimits(org_rpm=1), prefix=prefix)
    assert admit(limiter, o).allowed
    client = redis.Redis.from_url(redis_url)
    (key,) = client.scan_iter(f"{prefix}:*")
    assert 59 <= client.ttl(key) <= 60  # every counter carries the window's TTL
    client.pexpire(key, 2500)  # as if 57.5 s of the window had passed
    assert admit(limiter, o).retry_after_seconds == 3
    client.delete(key)  # the window ended
    assert admit(limiter, o).allowed
    client.close()


def test_in_process_windows_end_sixty_seconds_after_their_first_request() -> None:
    clock = FakeClock(0.0)
    limiter, o = InProcessRequestLimiter(RateLimits(key_rpm=2, key_tpm=100), clock=clock), org()
    assert admit(limiter, o, "key_a", 10).allowed
    clock.advance(45)
    assert admit(limiter, o, "key_a", 10).allowed
    refused = admit(limiter, o, "key_a", 10)
    assert (refused.limit, refused.retry_after_seconds) == ("key_requests", 15)
    clock.advance(14.5)
    assert admit(limiter, o, "key_a", 10).retry_after_seconds == 1  # never 0
    clock.advance(0.5)
    assert admit(limiter, o, "key_a", 10).allowed  # a new window
    settle(limiter, o, "key_a", estimated=10, actual=95)  # 95 in the new window
    assert admit(limiter, o, "key_a", 10).limit == "key_tokens"
    clock.advance(60)
    settle(limiter, o, "key_a", estimated=10, actual=0)  # its window is gone: nothing to undo
    assert admit(limiter, o, "key_a", 100).allowed


@pytest.mark.parametrize(("policy", "allowed"), [("allow", True), ("deny", False)])
def test_redis_unreachable_answers_by_policy_and_never_raises(policy: Any,
                                                              allowed: bool) -> None:
    limiter = RedisRequestLimiter(closed_port_url(), RateLimits(key_rpm=1, org_tpm=10),
                                  on_redis_error=policy)
    with capture_logs() as logs:
        decisions = [admit(limiter, org(), "key_a", tokens=5) for _ in range(3)]
        settle(limiter, org(), "key_a", estimated=5, actual=9)
    assert all(d.allowed is allowed for d in decisions)
    if not allowed:
        assert all(d.retry_after_seconds == 1 and d.limit == "key_requests" for d in decisions)
    errors = [line for line in logs if line["event"] == "rate_limit_redis_unavailable"]
    assert len(errors) == 1  # one line per outage, not one per request
    assert errors[0]["error_class"] == "ConnectionError" and errors[0]["policy"] == policy
    assert limiter.metrics.backend_errors.labels("admit", policy)._value.get() == 3
    assert limiter.metrics.backend_errors.labels("settle", policy)._value.get() == 1


def test_without_any_limit_a_dead_redis_is_never_asked() -> None:
    limiter = RedisRequestLimiter(closed_port_url(), RateLimits(), on_redis_error="deny")
    assert admit(limiter, org(), "key_a", 10).allowed


def test_the_factory_picks_redis_only_with_a_url(tmp_path: Any) -> None:
    from application.usage.service import UsageService

    usage = UsageService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    for url, kind in ((None, InProcessRequestLimiter), ("redis://127.0.0.1:1/0",
                                                         RedisRequestLimiter)):
        settings = Settings(data_dir=tmp_path, redis_url=url, gateway_key_rpm=7,
                            gateway_rate_limit_on_redis_error="deny")
        meter, limiter = build_gateway_accounting(settings, usage)
        assert isinstance(limiter, kind) and limiter.limits.key_rpm == 7
        meter.close()
