"""Datasets across tenants, projects and scopes: another organization's or project's dataset
does not exist for the caller (404 `not_found`, never 403 or 500), malformed ids are simply not
found, and an API key acts only within its scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, in_process, sign_up
from tests.support.datasets import (
    JSONL,
    create_dataset,
    fixture_bytes,
    settle_validation,
    sha256,
    upload_raw,
)

pytestmark = pytest.mark.anyio
Client = tuple[ControlPlane, httpx.AsyncClient]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def running(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    settings = request.getfixturevalue(f"{request.param}_settings")
    async with in_process(settings) as (plane, client):
        yield plane, client


@pytest.fixture
def client(running: Client) -> httpx.AsyncClient:
    return running[1]


async def make_key(client: httpx.AsyncClient, account: Account, scopes: list[str],
                   **fields: Any) -> dict[str, str]:
    response = await client.post("/v1/api_keys", headers=account.headers,
                                 json={"name": "ci", "scopes": scopes, **fields})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def dataset_routes(client: httpx.AsyncClient, headers: dict[str, str],
                         dataset_id: str) -> list[httpx.Response]:
    """Every route that names one dataset, as the holder of `headers`."""
    path = f"/v1/datasets/{dataset_id}"
    data = fixture_bytes("valid_chat")
    return [
        await client.get(path, headers=headers),
        await client.put(path, headers=headers, json={"description": "taken over"}),
        await client.put(path, headers={**headers, "If-Match": '"1"'}, json={"name": "mine"}),
        await client.post(f"{path}/upload", headers={**headers, **JSONL}, content=data),
        await client.post(f"{path}/upload", headers=headers,
                          files={"file": ("x.jsonl", data, "application/jsonl")}),
        await client.post(f"{path}/validate", headers=headers),
        await client.delete(path, headers={**headers, "If-Match": '"1"'}),
        await client.delete(path, headers=headers),
    ]


async def test_another_organizations_dataset_is_not_found_and_unchanged(
        running: Client) -> None:
    plane, client = running
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    secret = await create_dataset(client, alice, "alice only", metadata={"k": "v"})
    uploaded = (await upload_raw(client, alice, secret["id"], b'{"a": 1}\n')).json()
    bobs_key = await make_key(client, bob, ["all"])

    for headers in (bob.headers, bobs_key):
        for response in await dataset_routes(client, headers, secret["id"]):
            error = error_of(response, 404, "not_found")
            assert "alice" not in response.text.lower()
            assert error["type"] == "invalid_request_error"
        assert (await client.get("/v1/datasets", headers=headers)).json()["data"] == []

    await settle_validation(plane)  # had bob's validate gone through, the worker would act
    after = await client.get(f"/v1/datasets/{secret['id']}", headers=alice.headers)
    assert after.status_code == 200
    assert after.json() == uploaded
    bobs_content = sha256(fixture_bytes("valid_chat"))
    assert not plane.object_store.exists(f"datasets/{secret['id'][3:]}/{bobs_content}")


@pytest.mark.parametrize("dataset_id", [
    "proj_0123456789abcdef0123456789abcdef",      # another type's prefix
    "org_0123456789abcdef0123456789abcdef",
    "model_0123456789abcdef0123456789abcdef",
    "ds_",                                         # no uuid
    "ds_0123",                                     # too short
    "ds_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",        # not hex
    "ds_0123456789abcdef0123456789abcdef0",       # too long
    "ds-0123456789abcdef0123456789abcdef",        # wrong separator
    "0123456789abcdef0123456789abcdef",           # bare uuid hex
    "ds_0123456789abcdef0123456789abcdef",        # well formed, never created
    "%00",
    "ds_%E2%98%83",
])
async def test_malformed_and_wrong_type_ids_are_not_found(client: httpx.AsyncClient,
                                                          dataset_id: str) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    for response in await dataset_routes(client, alice.headers, dataset_id):
        error_of(response, 404, "not_found")


async def test_ids_of_other_objects_with_a_dataset_prefix_are_not_found(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    project = await create_project(client, alice, "p")
    for other in (alice.org_id, alice.user_id, project["id"]):
        candidate = "ds_" + other.partition("_")[2]
        for response in await dataset_routes(client, alice.headers, candidate):
            error_of(response, 404, "not_found")


async def test_malformed_list_cursor_is_a_client_error(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    for after in ("proj_0123456789abcdef0123456789abcdef", "garbage", "ds_"):
        response = await client.get("/v1/datasets", headers=alice.headers,
                                    params={"after": after})
        assert 400 <= response.status_code < 500, response.text
        error_of(response, response.status_code)


async def test_read_scoped_key_reads_but_cannot_write(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], fixture_bytes("valid_chat"))
    key = await make_key(client, ada, ["datasets:read"])
    listed = await client.get("/v1/datasets", headers=key)
    assert [d["id"] for d in listed.json()["data"]] == [dataset["id"]]
    assert (await client.get(f"/v1/datasets/{dataset['id']}", headers=key)).status_code == 200

    path = f"/v1/datasets/{dataset['id']}"
    for response in (
            await client.post(f"{path}/upload", headers={**key, **JSONL}, content=b"{}\n"),
            await client.post(f"{path}/upload", headers=key,
                              files={"file": ("x.jsonl", b"{}\n", "application/jsonl")}),
            await client.post(f"{path}/validate", headers=key),
            await client.put(path, headers=key, json={"name": "renamed"}),
            await client.delete(path, headers=key),
            await client.post("/v1/datasets", headers=key,
                              json={"name": "n", "purpose": "rl", "format": "prompt"})):
        error = error_of(response, 403, "insufficient_scope")
        assert "datasets:write" in error["message"]
    unchanged = (await client.get(path, headers=ada.headers)).json()
    assert (unchanged["status"], len(unchanged["versions"])) == ("uploaded", 1)


async def test_key_without_dataset_scopes_sees_nothing(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    key = await make_key(client, ada, ["projects:read"])
    error_of(await client.get("/v1/datasets", headers=key), 403, "insufficient_scope")
    error_of(await client.get(f"/v1/datasets/{dataset['id']}", headers=key), 403,
             "insufficient_scope")


async def test_project_key_sees_only_its_projects_datasets(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    mine = await create_project(client, ada, "mine")
    other = await create_project(client, ada, "other")
    in_mine = await create_dataset(client, ada, "in mine", project_id=mine["id"])
    in_other = await create_dataset(client, ada, "in other", project_id=other["id"])
    org_wide = await create_dataset(client, ada, "no project")
    key = await make_key(client, ada, ["datasets:read", "datasets:write"],
                         project_id=mine["id"])

    made = await create_dataset(client, key, "made by key")
    assert made["project_id"] == mine["id"]
    listed = await client.get("/v1/datasets", headers=key)
    assert [d["id"] for d in listed.json()["data"]] == [made["id"], in_mine["id"]]
    everything = await client.get("/v1/datasets", headers=ada.headers)
    assert {d["id"] for d in everything.json()["data"]} == {
        made["id"], in_mine["id"], in_other["id"], org_wide["id"]}

    upload = await upload_raw(client, key, in_mine["id"], fixture_bytes("valid_chat"))
    assert upload.status_code == 201, upload.text
    for hidden in (in_other, org_wide):
        for response in await dataset_routes(client, key, hidden["id"]):
            error_of(response, 404, "not_found")
    refused = await client.post("/v1/datasets", headers=key, json={
        "name": "elsewhere", "purpose": "rl", "format": "prompt", "project_id": other["id"]})
    assert refused.status_code in (403, 404), refused.text
    error_of(refused, refused.status_code)
    still = await client.get(f"/v1/datasets/{in_other['id']}", headers=ada.headers)
    assert (still.status_code, still.json()["versions"]) == (200, [])


async def test_dataset_in_another_organizations_project_cannot_be_created(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    alices = await create_project(client, alice, "alice's")
    response = await client.post("/v1/datasets", headers=bob.headers, json={
        "name": "planted", "purpose": "rl", "format": "prompt", "project_id": alices["id"]})
    error = error_of(response, 404, "not_found")
    assert error["param"] == "project_id"
    listed = await client.get("/v1/datasets", headers=alice.headers)
    assert listed.json()["data"] == []
