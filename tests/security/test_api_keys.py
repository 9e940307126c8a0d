"""Attacks on API keys through the control plane: revoked, expired and cross-tenant keys,
scope escalation and mass assignment through PUT, and forged or mistyped keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from domain.identity.api_key import DAY_SECONDS
from domain.identity.api_key_format import compose
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, in_process, sign_up

pytestmark = pytest.mark.anyio
Client = tuple[ControlPlane, httpx.AsyncClient]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def running(sqlite_settings: Settings) -> AsyncIterator[Client]:
    async with in_process(sqlite_settings) as (plane, client):
        yield plane, client


async def new_key(client: httpx.AsyncClient, account: Account, scopes: list[str],
                  **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/api_keys", headers=account.headers,
                                 json={"name": "k", "scopes": scopes, **fields})
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


def as_key(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_revoked_key_is_refused_everywhere_at_once(running: Client) -> None:
    _, client = running
    ada = await sign_up(client)
    key = await new_key(client, ada, ["all"])
    assert (await client.get("/v1/projects", headers=as_key(key["key"]))).status_code == 200
    await client.delete(f"/v1/api_keys/{key['id']}", headers=ada.headers)
    for method, path in (("GET", "/v1/projects"), ("POST", "/v1/projects"),
                         ("GET", "/v1/orgs/current")):
        response = await client.request(method, path, headers=as_key(key["key"]),
                                        json={"name": "x"} if method == "POST" else None)
        error = error_of(response, 401, "invalid_api_key")
        assert key["key"] not in str(error)


async def test_expired_key_is_refused(running: Client) -> None:
    plane, client = running
    ada = await sign_up(client)
    key = await new_key(client, ada, ["all"], expires_in_days=1)
    api_keys = plane.auth_app.state.api_keys
    real = api_keys.clock
    api_keys.clock = lambda: real() + DAY_SECONDS + 1
    try:
        error_of(await client.get("/v1/projects", headers=as_key(key["key"])), 401,
                 "invalid_api_key")
        error_of(await client.put(f"/v1/api_keys/{key['id']}", headers=ada.headers,
                                  json={"expires_in_days": 365}), 409,
                 "invalid_state_transition")  # an expired key cannot be revived
    finally:
        api_keys.clock = real


async def test_cross_tenant_key_sees_nothing(running: Client) -> None:
    _, client = running
    alice = await sign_up(client, "alice", name="Alice")
    mallory = await sign_up(client, "mallory", name="Mallory")
    target = await create_project(client, alice, "target")
    key = await new_key(client, mallory, ["all"])
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"/v1/projects/{target['id']}",
                                         headers=as_key(key["key"]),
                                         json={"name": "pwned"} if method == "PUT" else None)
        error_of(response, 404, "not_found")
    restricted = await new_key(client, mallory, ["all"], project_id=target["id"])
    error_of(await client.get(f"/v1/projects/{target['id']}",
                              headers=as_key(restricted["key"])), 404, "not_found")
    for method in ("PUT", "DELETE"):
        response = await client.request(method, f"/v1/api_keys/{key['id']}",
                                        headers=alice.headers,
                                        json={"name": "x"} if method == "PUT" else None)
        error_of(response, 404, "not_found")
    untouched = await client.get(f"/v1/projects/{target['id']}", headers=alice.headers)
    assert untouched.json() == target


async def test_scope_escalation_through_put_and_post(running: Client,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    plane, client = running
    ada = await sign_up(client)
    key = await new_key(client, ada, ["projects:read"])
    # The key cannot widen itself: keys never manage keys.
    error_of(await client.put(f"/v1/api_keys/{key['id']}", headers=as_key(key["key"]),
                              json={"scopes": ["all"]}), 403, "user_token_required")
    # A creator who holds only read rights cannot widen a key beyond them.
    api_keys = plane.auth_app.state.api_keys
    monkeypatch.setattr(api_keys, "creator_scopes", lambda user_id, org_id: ("read",))
    for scopes in (["all"], ["projects:write"], ["orgs:write", "read"]):
        error_of(await client.put(f"/v1/api_keys/{key['id']}", headers=ada.headers,
                                  json={"scopes": scopes}), 403, "scope_escalation")
        error_of(await client.post("/v1/api_keys", headers=ada.headers,
                                   json={"name": "wide", "scopes": scopes}), 403,
                 "scope_escalation")
    listed = (await client.get("/v1/api_keys", headers=ada.headers)).json()["data"]
    assert [k["scopes"] for k in listed] == [["projects:read"]]


@pytest.mark.parametrize("body", [
    {"secret": "attacker-chosen"}, {"key": "bsk_attacker"}, {"secret_hmac": "00"},
    {"org_id": "org_" + "1" * 32}, {"created_by": "user_" + "1" * 32},
    {"project_id": "proj_" + "1" * 32}, {"revoked_at": None}, {"id": "key_" + "1" * 32},
    {"name": "fine", "scopes": ["read"], "org_id": "org_" + "1" * 32},
])
async def test_mass_assignment_through_put(running: Client, body: dict[str, Any]) -> None:
    _, client = running
    ada = await sign_up(client)
    key = await new_key(client, ada, ["read"])
    error_of(await client.put(f"/v1/api_keys/{key['id']}", headers=ada.headers, json=body), 400)
    [after] = (await client.get("/v1/api_keys", headers=ada.headers)).json()["data"]
    assert (after["version"], after["scopes"], after["project_id"]) == (1, ["read"], None)
    assert (await client.get("/v1/projects", headers=as_key(key["key"]))).status_code == 200


async def test_forged_or_mistyped_keys_are_refused_without_a_lookup(running: Client) -> None:
    plane, client = running
    ada = await sign_up(client)
    key = (await new_key(client, ada, ["all"]))["key"]
    flipped = key[:20] + ("a" if key[20] != "a" else "b") + key[21:]
    for bad in (flipped, key[:-1], key + "0", key.replace("bsk_", "bsk_x", 1),
                "bsk_" + "0" * 22 + "_" + "0" * 43 + "_" + "000000"):
        error_of(await client.get("/v1/projects", headers=as_key(bad)), 401, "invalid_api_key")
    assert plane.api_keys.calls == 0
    # Well-formed (right checksum) but unknown: one call each, refused alike.
    key_id = uuid4()
    for guess in (compose(key_id, 1), compose(key_id, 2)):
        error_of(await client.get("/v1/projects", headers=as_key(guess)), 401,
                 "invalid_api_key")
    assert plane.api_keys.calls == 2


async def test_keys_of_a_deleted_organization_stop_working(running: Client) -> None:
    _, client = running
    ada = await sign_up(client)
    key = await new_key(client, ada, ["all"])
    assert (await client.get("/v1/projects", headers=as_key(key["key"]))).status_code == 200
    org = (await client.get("/v1/orgs/current", headers=ada.headers)).json()
    deleted = await client.delete("/v1/orgs/current", headers=ada.headers,
                                  params={"confirm": org["name"]})
    assert deleted.status_code == 200, deleted.text
    error_of(await client.get("/v1/projects", headers=as_key(key["key"])), 401)
