"""ApiKeyIntrospector against a stand-in auth service: one introspection per key in flight,
entries refreshed in the background before they expire, drops never joined across."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from uuid import uuid4

import httpx
import pytest

from domain.identity.api_key_format import compose
from domain.shared.ids import format_id
from infra.auth.api_key_cache import ApiKeyCache
from infra.auth.api_key_client import ApiKeyIntrospector, ApiKeyServiceUnavailableError

pytestmark = pytest.mark.anyio

KEY_ID, ORG_ID = uuid4(), uuid4()
KEY = compose(KEY_ID, secrets.randbits(256))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class AuthService:
    """Answers introspections when released, and counts them."""

    def __init__(self) -> None:
        self.calls, self.release, self.failing = 0, asyncio.Event(), False
        self.release.set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await self.release.wait()
        if self.failing:
            return httpx.Response(503)
        return httpx.Response(200, json={
            "active": True, "key_id": format_id("key", KEY_ID), "org_id": format_id("org", ORG_ID),
            "project_id": None, "scopes": ["all"], "expires_at": None})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until `condition` holds (a bounded number of turns)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def introspector(service: AuthService, clock: Clock) -> ApiKeyIntrospector:
    http = httpx.AsyncClient(transport=httpx.MockTransport(service), base_url="http://auth")
    return ApiKeyIntrospector(http, "internal", ApiKeyCache(30, clock=clock))


async def test_requests_that_miss_together_share_one_introspection() -> None:
    service, clock = AuthService(), Clock()
    keys = introspector(service, clock)
    service.release.clear()
    waiting = [asyncio.create_task(keys.grant(KEY)) for _ in range(30)]
    await until(lambda: service.calls == 1)  # every request has missed and is waiting
    service.release.set()
    grants = await asyncio.gather(*waiting)
    assert service.calls == 1 and {grant.org_id for grant in grants if grant} == {ORG_ID}
    assert len(grants) == 30 and all(grants)


async def test_an_entry_past_half_its_ttl_is_fetched_again_while_requests_go_on() -> None:
    service, clock = AuthService(), Clock()
    keys = introspector(service, clock)
    await keys.grant(KEY)
    clock.now = 16.0
    service.release.clear()
    assert await keys.grant(KEY) is not None  # answered from the cache at once
    assert await keys.grant(KEY) is not None  # the refresh in flight is not repeated
    await until(lambda: service.calls == 2)
    service.release.set()
    await until(lambda: not keys._fetching)  # the background fetch ended
    clock.now = 40.0  # 24 s after the refresh: still cached, no introspection
    assert await keys.grant(KEY) is not None and service.calls == 2


async def test_a_failed_background_fetch_leaves_the_entry_to_expire() -> None:
    service, clock = AuthService(), Clock()
    keys = introspector(service, clock)
    await keys.grant(KEY)
    service.failing, clock.now = True, 16.0
    assert await keys.grant(KEY) is not None
    await until(lambda: not keys._fetching)
    assert await keys.grant(KEY) is not None and service.calls == 2  # not tried again
    clock.now = 30.0
    with pytest.raises(ApiKeyServiceUnavailableError):  # expired: the request asks, and fails
        await keys.grant(KEY)


async def test_a_request_after_a_drop_does_not_join_a_fetch_begun_before_it() -> None:
    service, clock = AuthService(), Clock()
    keys = introspector(service, clock)
    service.release.clear()
    before = asyncio.create_task(keys.grant(KEY))
    await asyncio.sleep(0)
    keys.cache.drop_key(format_id("key", KEY_ID))  # revoked while the first fetch is out
    after = asyncio.create_task(keys.grant(KEY))
    await until(lambda: service.calls == 2)  # a second introspection, not the first joined
    service.release.set()
    assert all(await asyncio.gather(before, after))
