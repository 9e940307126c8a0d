"""Another tenant's objects do not exist for the caller: 404 `not_found`, never 403 or 500."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Account, create_project, error_of, sign_up

pytestmark = pytest.mark.anyio


async def project_routes(client: httpx.AsyncClient, account: Account, project_id: str,
                         ) -> list[httpx.Response]:
    """GET, PUT (plain and conditional) and DELETE of one project id, as `account`."""
    path = f"/v1/projects/{project_id}"
    return [
        await client.get(path, headers=account.headers),
        await client.put(path, headers=account.headers, json={"description": "taken over"}),
        await client.put(path, headers={**account.headers, "If-Match": '"1"'},
                         json={"name": "hijacked"}),
        await client.delete(path, headers=account.headers),
        await client.delete(path, headers={**account.headers, "If-Match": '"1"'}),
    ]


async def test_another_tenants_project_is_not_found_and_unchanged(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    assert alice.org_id != bob.org_id
    secret = await create_project(client, alice, "Secret", description="alice only",
                                  metadata={"k": "v"})

    for response in await project_routes(client, bob, secret["id"]):
        error = error_of(response, 404, "not_found")
        assert error["type"] == "invalid_request_error"
        assert "alice" not in response.text.lower()

    unchanged = await client.get(f"/v1/projects/{secret['id']}", headers=alice.headers)
    assert unchanged.status_code == 200
    assert unchanged.json() == secret


async def test_lists_show_only_the_callers_projects(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    alices = {(await create_project(client, alice, f"a{i}"))["id"] for i in range(3)}
    bobs = {(await create_project(client, bob, "a0"))["id"]}  # same name, other tenant: fine

    async def ids(account: Account, **params: Any) -> set[str]:
        page = await client.get("/v1/projects", headers=account.headers, params=params)
        assert page.status_code == 200, page.text
        return {project["id"] for project in page.json()["data"]}

    assert await ids(alice) == alices
    assert await ids(bob) == bobs
    # Paging with another tenant's cursor does not reveal their objects either.
    assert not await ids(bob, after=sorted(alices)[0]) & alices


async def test_the_same_idempotency_key_in_two_tenants_makes_two_projects(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    key = {"Idempotency-Key": f"shared-{uuid.uuid4().hex}"}
    body = {"name": "Same"}
    first = await client.post("/v1/projects", headers={**alice.headers, **key}, json=body)
    second = await client.post("/v1/projects", headers={**bob.headers, **key}, json=body)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["organization_id"] == bob.org_id


@pytest.mark.parametrize("project_id", [
    "org_0123456789abcdef0123456789abcdef",      # another type's prefix
    "user_0123456789abcdef0123456789abcdef",
    "proj_",                                       # no uuid
    "proj_0123",                                   # too short
    "proj_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",      # not hex
    "proj_0123456789abcdef0123456789abcdef0",     # too long
    "proj-0123456789abcdef0123456789abcdef",      # wrong separator
    "0123456789abcdef0123456789abcdef",           # bare uuid hex
    "proj_0123456789abcdef0123456789abcdef",      # well formed, never created
    "%00",
    "..%2F..%2Fetc",
    "proj_%E2%98%83",
])
async def test_malformed_and_wrong_type_ids_are_not_found(client: httpx.AsyncClient,
                                                          project_id: str) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    for response in await project_routes(client, alice, project_id):
        error_of(response, 404, "not_found")


async def test_an_organization_id_passed_as_a_project_id_is_not_found(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    await create_project(client, alice, "Real")
    own_org_hex = alice.org_id.removeprefix("org_")
    for candidate in (alice.org_id, f"proj_{own_org_hex}", alice.user_id):
        for response in await project_routes(client, alice, candidate):
            error_of(response, 404, "not_found")


async def test_malformed_list_cursor_is_a_client_error(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    for after in ("org_0123456789abcdef0123456789abcdef", "garbage"):
        response = await client.get("/v1/projects", headers=alice.headers,
                                    params={"after": after})
        assert 400 <= response.status_code < 500, response.text
        error_of(response, response.status_code)
