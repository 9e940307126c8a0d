"""Redis stopped (issue 9, section 3): `bitstride dev` with REDIS_URL on a private Redis server
(tests/support/private_servers.py), which the test stops for good.

Checked: the control plane keeps serving (logins, whose throttle falls back to this process's
counters; access tokens, whose revocation check falls back to this process's list; API keys;
writes and reads), `/ready` names Redis, the gateway follows GATEWAY_RATE_LIMIT_ON_REDIS_ERROR
(`allow` serves, `deny` answers 429 with Retry-After), and every request that reached the
replica is metered (metering does not use Redis).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.e2e.conftest import PASSWORD, DevServer, error_of, free_port, running, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.e2e.test_walkthrough import http_client
from tests.support.private_servers import PrivateRedis, private_redis
from tests.support.stub_upstream import RunningStub, running_stub

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

__all__ = ["private_redis"]

STUB_MODEL = "smollm2-135m-instruct"
HI = [{"role": "user", "content": "Hi"}]
WAIT_SECONDS = 30.0
CALLS = 5


@pytest.fixture
def stub() -> Iterator[RunningStub]:
    with running_stub(free_port()) as upstream:
        yield upstream


@pytest.fixture(params=["allow", "deny"])
def dev_on_redis(request: pytest.FixtureRequest, private_redis: PrivateRedis,
                 tmp_path: Path) -> Iterator[tuple[DevServer, str]]:
    """`bitstride dev` whose sessions, throttles, key pushes and gateway limits use Redis."""
    policy: str = request.param
    port = free_port()
    env = {"BITSTRIDE_DATA_DIR": str(tmp_path / "var"), "REDIS_URL": private_redis.url,
           "TRAINING_EXECUTOR": "none", "DEPLOYMENT_CONTROLLER": "on",
           "GATEWAY_KEY_RPM": "1000", "GATEWAY_USAGE_FLUSH_SECONDS": "0.1",
           "GATEWAY_RATE_LIMIT_ON_REDIS_ERROR": policy}
    with running(["dev", "--host", "127.0.0.1", "--port", str(port)], env,
                 tmp_path / "dev.log") as server:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_healthy(base_url)
        yield DevServer(base_url, tmp_path / "var", server), policy


async def ready_deployment(client: httpx.AsyncClient, headers: dict[str, str],
                           stub: RunningStub) -> None:
    created = await client.post("/v1/deployments", headers=headers, json={
        "model": STUB_MODEL, "backend": "upstream", "upstream_url": stub.url})
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + WAIT_SECONDS
    while (await client.post("/v1/chat/completions", headers=headers, json={
            "model": STUB_MODEL, "messages": HI})).status_code != 200:
        assert time.monotonic() < deadline, "the deployment never served"
        await anyio.sleep(0.1)


async def metered_requests(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    day = 86400
    start = int(time.time()) // day * day
    response = await client.get("/v1/usage", headers=headers, params={
        "start_time": start, "group_by": "meter", "meters": "inference.input_tokens"})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = [r for bucket in response.json()["data"]
                                     for r in bucket["results"]]
    return sum(result["num_records"] for result in results)


async def test_redis_stopped(dev_on_redis: tuple[DevServer, str], private_redis: PrivateRedis,
                             stub: RunningStub) -> None:
    dev, policy = dev_on_redis
    async with http_client(dev.base_url) as client:
        ada = await sign_up(client, "ada")
        keyed = bearer(await make_key(client, ada, ["all"]))
        await ready_deployment(client, ada.headers, stub)
        served = 1  # the request that found the deployment ready

        private_redis.stop()

        ready = await client.get("/ready")
        assert ready.status_code == 503 and "redis" in ready.json()["error"]["message"]
        login = await client.post("/v1/auth/login", json={"email": ada.email,
                                                          "password": PASSWORD})
        assert login.status_code == 200, login.text
        made = await client.post("/v1/projects", headers=ada.headers, json={"name": "on"})
        assert made.status_code == 201, made.text
        listed = await client.get("/v1/projects", headers=keyed)
        assert [p["id"] for p in listed.json()["data"]] == [made.json()["id"]]

        for _ in range(CALLS):
            answer = await client.post("/v1/chat/completions", headers=keyed,
                                       json={"model": STUB_MODEL, "messages": HI})
            if policy == "allow":
                assert answer.status_code == 200, answer.text
                served += 1
            else:
                error_of(answer, 429, "rate_limited")
                assert answer.headers["Retry-After"] == "1"

        logout = await client.post("/v1/auth/logout", headers=ada.headers)
        assert logout.status_code == 200, logout.text
        error_of(await client.get("/v1/projects", headers=ada.headers), 401)

        deadline = time.monotonic() + WAIT_SECONDS
        while (metered := await metered_requests(client, keyed)) < served:
            assert time.monotonic() < deadline, f"{metered} of {served} requests metered"
            await anyio.sleep(0.1)
        assert metered == served
