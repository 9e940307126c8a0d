"""API keys through the control plane: made with a user token, used within scopes and project,
refused once revoked (pushed at once, not after the cache TTL) or expired."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from domain.identity.api_key import DAY_SECONDS
from infra.auth.api_key_changes import RedisApiKeyChanges
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, in_process, sign_up

pytestmark = pytest.mark.anyio


async def make_key(client: httpx.AsyncClient, account: Account, scopes: list[str],
                   **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/api_keys", headers=account.headers,
                                 json={"name": "ci", "scopes": scopes, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def test_key_works_within_its_scopes(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["projects:write"])
    made = await client.post("/v1/projects", headers=bearer(key), json={"name": "via key"})
    assert made.status_code == 201, made.text
    listed = await client.get("/v1/projects", headers=bearer(key))
    assert [p["id"] for p in listed.json()["data"]] == [made.json()["id"]]
    updated = await client.put(f"/v1/projects/{made.json()['id']}", headers=bearer(key),
                               json={"description": "changed by a key"})
    assert updated.status_code == 200
    error = error_of(await client.get("/v1/orgs/current", headers=bearer(key)), 403,
                     "insufficient_scope")
    assert "orgs:read" in error["message"]


async def test_read_only_key_cannot_write(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    project = await create_project(client, ada, "existing")
    key = await make_key(client, ada, ["read"])
    assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
    assert (await client.get("/v1/orgs/current", headers=bearer(key))).status_code == 200
    for response in (
            await client.post("/v1/projects", headers=bearer(key), json={"name": "nope"}),
            await client.put(f"/v1/projects/{project['id']}", headers=bearer(key),
                             json={"name": "nope"}),
            await client.delete(f"/v1/projects/{project['id']}", headers=bearer(key)),
            await client.put("/v1/orgs/current", headers=bearer(key), json={"name": "nope"})):
        error = error_of(response, 403, "insufficient_scope")
        assert ":write" in error["message"]
    refused = await client.delete("/v1/orgs/current", headers=bearer(key),
                                  params={"confirm": "x"})
    assert refused.status_code == 403


async def test_project_key_sees_only_its_project(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    mine = await create_project(client, ada, "mine")
    other = await create_project(client, ada, "other")
    key = await make_key(client, ada, ["all"], project_id=mine["id"])
    listed = await client.get("/v1/projects", headers=bearer(key))
    assert [p["id"] for p in listed.json()["data"]] == [mine["id"]]
    assert (await client.get(f"/v1/projects/{mine['id']}", headers=bearer(key))).status_code \
        == 200
    changed = await client.put(f"/v1/projects/{mine['id']}", headers=bearer(key),
                               json={"description": "ok"})
    assert changed.status_code == 200
    for response in (
            await client.get(f"/v1/projects/{other['id']}", headers=bearer(key)),
            await client.put(f"/v1/projects/{other['id']}", headers=bearer(key),
                             json={"name": "taken"}),
            await client.delete(f"/v1/projects/{other['id']}", headers=bearer(key))):
        error_of(response, 404, "not_found")
    error_of(await client.post("/v1/projects", headers=bearer(key), json={"name": "new"}),
             403, "insufficient_scope")
    error_of(await client.get("/v1/orgs/current", headers=bearer(key)), 403,
             "insufficient_scope")


async def test_revoked_key_fails_on_the_very_next_request(client: httpx.AsyncClient,
                                                          plane: ControlPlane) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"])
    assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
    assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
    assert plane.api_keys.calls == 1  # the second use was served from the cache
    deleted = await client.delete(f"/v1/api_keys/{key['id']}", headers=ada.headers)
    assert deleted.status_code == 200
    error_of(await client.get("/v1/projects", headers=bearer(key)), 401, "invalid_api_key")


async def test_narrowed_scopes_apply_at_once(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"])
    assert (await client.get("/v1/orgs/current", headers=bearer(key))).status_code == 200
    narrowed = await client.put(f"/v1/api_keys/{key['id']}", headers=ada.headers,
                                json={"scopes": ["projects:read"]})
    assert narrowed.status_code == 200
    error_of(await client.get("/v1/orgs/current", headers=bearer(key)), 403,
             "insufficient_scope")


async def test_expired_key_is_refused(client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"], expires_in_days=1)
    assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
    api_keys = plane.auth_app.state.api_keys  # the auth service's use cases, in process
    real_clock = api_keys.clock
    api_keys.clock = lambda: real_clock() + 2 * DAY_SECONDS
    plane.api_key_cache.clear()
    try:
        error_of(await client.get("/v1/projects", headers=bearer(key)), 401, "invalid_api_key")
    finally:
        api_keys.clock = real_clock


async def test_cached_grant_stops_at_expiry(client: httpx.AsyncClient,
                                            plane: ControlPlane) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"], expires_in_days=1)
    assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
    introspector: Any = plane.api_keys
    real = introspector._wall_clock
    introspector._wall_clock = lambda: real() + 2 * DAY_SECONDS
    try:
        error_of(await client.get("/v1/projects", headers=bearer(key)), 401, "invalid_api_key")
    finally:
        introspector._wall_clock = real


async def test_another_orgs_key_finds_nothing_here(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    secret = await create_project(client, alice, "alice only")
    bobs_key = await make_key(client, bob, ["all"])
    for response in (
            await client.get(f"/v1/projects/{secret['id']}", headers=bearer(bobs_key)),
            await client.put(f"/v1/projects/{secret['id']}", headers=bearer(bobs_key),
                             json={"name": "taken"}),
            await client.delete(f"/v1/projects/{secret['id']}", headers=bearer(bobs_key))):
        error_of(response, 404, "not_found")
    listed = await client.get("/v1/projects", headers=bearer(bobs_key))
    assert listed.json()["data"] == []
    error_of(await client.put(f"/v1/api_keys/{bobs_key['id']}", headers=alice.headers,
                              json={"name": "mine"}), 404, "not_found")


async def test_key_cannot_create_keys(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"])
    response = await client.post("/v1/api_keys", headers=bearer(key),
                                 json={"name": "child", "scopes": ["all"]})
    error_of(response, 403, "user_token_required")


async def test_put_rejects_mass_assignment_and_unknown_scopes(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["read"])
    path = f"/v1/api_keys/{key['id']}"
    for body in ({"secret": "mine"}, {"org_id": "org_" + "0" * 32}, {"shiny": True},
                 {"scopes": ["admin"]}, {"scopes": ["*"]}):
        error_of(await client.put(path, headers=ada.headers, json=body), 400)
    listed = (await client.get("/v1/api_keys", headers=ada.headers)).json()["data"]
    assert listed[0]["scopes"] == ["read"] and listed[0]["version"] == 1


async def test_malformed_key_is_refused_without_asking(client: httpx.AsyncClient,
                                                       plane: ControlPlane) -> None:
    ada = await sign_up(client)
    key = await make_key(client, ada, ["all"])
    broken = key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B")
    for token in (broken, "bsk_short", "bsk_" + "A" * 73):
        error_of(await client.get("/v1/projects", headers={"Authorization": f"Bearer {token}"}),
                 401, "invalid_api_key")
    assert plane.api_keys.calls == 0


@pytest.mark.redis
async def test_revocation_is_pushed_over_redis(sqlite_settings: Settings,
                                               redis_url: str) -> None:
    """Two control planes share Redis: a revocation made through one empties the other's
    cache within 2 s (here: the plane that serves the key never sees the DELETE)."""
    settings = sqlite_settings.with_overrides(redis_url=redis_url)
    async with in_process(settings) as (plane, client):
        changes = plane.api_key_changes
        assert isinstance(changes, RedisApiKeyChanges)
        assert changes.ready.wait(5)
        other = RedisApiKeyChanges(redis_url)  # a second control plane's subscriber
        other_cache_dropped: list[str] = []
        other.subscribe(other_cache_dropped.append, lambda: None)
        try:
            assert other.ready.wait(5)
            ada = await sign_up(client)
            key = await make_key(client, ada, ["all"])
            assert (await client.get("/v1/projects", headers=bearer(key))).status_code == 200
            await client.delete(f"/v1/api_keys/{key['id']}", headers=ada.headers)
            deadline = time.monotonic() + 2.0
            status = 200
            while time.monotonic() < deadline:  # the push's own bound, not a fixed sleep
                status = (await client.get("/v1/projects", headers=bearer(key))).status_code
                if status == 401 and key["id"] in other_cache_dropped:
                    break
                await anyio.sleep(0.01)
            assert status == 401
            assert key["id"] in other_cache_dropped
        finally:
            other.close()

