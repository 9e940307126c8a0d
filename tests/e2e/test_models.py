"""The models routes over HTTP: catalog, registration, names, isolation, deletion rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from infra.catalog.loader import load_catalog
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, error_of, sign_up

pytestmark = pytest.mark.anyio
BASE = "qwen2.5-0.5b-instruct"
OPENAI_FIELDS = {"id", "object", "created", "owned_by"}


async def register(client: httpx.AsyncClient, account: Account, name: str = "my-ft",
                   **fields: Any) -> dict[str, Any]:
    body = {"name": name, "base_model": BASE, "weights_uri": f"s3://weights/{name}", **fields}
    response = await client.post("/v1/models", headers=account.headers, json=body)
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()
    return model


async def listed(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/models", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_the_list_is_openai_shaped_with_the_base_catalog(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    page = await listed(client, ada, limit=100)
    assert page["object"] == "list" and page["has_more"] is False
    names = {spec.name for spec in load_catalog()}
    assert {m["name"] for m in page["data"]} == names
    for model in page["data"]:
        assert set(model) >= OPENAI_FIELDS
        assert (model["object"], model["owned_by"], model["kind"]) == ("model", "bitstride",
                                                                        "base")
        assert model["id"].startswith("model_") and isinstance(model["created"], int)
        assert model["allowed_actions"] == [] and model["lineage"] is None
    assert (page["first_id"], page["last_id"]) == (page["data"][0]["id"],
                                                   page["data"][-1]["id"])


async def test_register_get_update_and_delete(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    base = (await client.get(f"/v1/models/{BASE}", headers=ada.headers)).json()
    model = await register(client, ada, description="first try", metadata={"run": "1"},
                           context_length=4096)
    assert model["owned_by"] == ada.org_id and model["kind"] == "organization"
    assert (model["context_length"], model["tokenizer"]) == (4096, base["tokenizer"])
    assert model["lineage"] == {"base_model": base["id"], "job_id": None,
                                "dataset_versions": []}
    path = f"/v1/models/{model['id']}"
    got = await client.get(path, headers=ada.headers)
    assert got.json() == model and got.headers["etag"] == '"1"'
    assert (await client.get("/v1/models/my-ft", headers=ada.headers)).json() == model

    page = await listed(client, ada, limit=1)
    assert page["data"][0]["id"] == model["id"] and page["has_more"] is True

    stale = await client.put(path, headers={**ada.headers, "If-Match": '"7"'},
                             json={"name": "x"})
    error_of(stale, 412, "precondition_failed")
    renamed = await client.put(path, headers={**ada.headers, "If-Match": '"1"'},
                               json={"name": "better-ft", "description": "second"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["version"]) == ("better-ft", 2)
    error_of(await client.get("/v1/models/my-ft", headers=ada.headers), 404, "not_found")

    deleted = await client.delete(path, headers=ada.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": model["id"], "object": "model", "deleted": True}
    error_of(await client.get(path, headers=ada.headers), 404, "not_found")
    error_of(await client.delete(path, headers=ada.headers), 404, "not_found")
    assert model["id"] not in {m["id"] for m in (await listed(client, ada, limit=100))["data"]}


async def test_names_are_unique_within_the_org(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    bob = await sign_up(client, "bob", name="Bob")
    first = await register(client, ada, "shared-name")
    again = await client.post("/v1/models", headers=ada.headers,
                              json={"name": "Shared-Name", "base_model": BASE,
                                    "weights_uri": "s3://w/2"})
    assert error_of(again, 409, "name_taken")["param"] == "name"
    await register(client, bob, "shared-name")  # another organization: its own namespace
    shadow = await client.post("/v1/models", headers=ada.headers,
                               json={"name": BASE, "base_model": BASE,
                                     "weights_uri": "s3://w/3"})
    error_of(shadow, 409, "name_taken")
    other = await register(client, ada, "other")
    clash = await client.put(f"/v1/models/{other['id']}", headers=ada.headers,
                             json={"name": "shared-name"})
    error_of(clash, 409, "name_taken")
    await client.delete(f"/v1/models/{first['id']}", headers=ada.headers)
    await register(client, ada, "shared-name")  # a deleted model frees its name


async def test_idempotent_registration(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    body = {"name": "keyed", "base_model": BASE, "weights_uri": "s3://w/k"}
    headers = {**ada.headers, "Idempotency-Key": "reg-1"}
    first = await client.post("/v1/models", headers=headers, json=body)
    again = await client.post("/v1/models", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    reused = await client.post("/v1/models", headers=headers, json={**body, "name": "k2"})
    error_of(reused, 409, "idempotency_key_reused")


async def test_bad_registrations(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    own = await register(client, ada)
    cases = [({"base_model": "no-such-model"}, 404, "not_found"),
             ({"base_model": own["id"]}, 400, "invalid_value"),
             ({"weights_uri": "not a uri"}, 400, "invalid_value"),
             ({"context_length": 10**9}, 400, "invalid_value"),
             ({"name": "has space"}, 400, "invalid_value")]
    for fields, status, code in cases:
        body = {"name": "fresh", "base_model": BASE, "weights_uri": "s3://w/f", **fields}
        response = await client.post("/v1/models", headers=ada.headers, json=body)
        error_of(response, status, code)


async def test_base_models_cannot_be_changed_or_deleted(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    base = (await client.get(f"/v1/models/{BASE}", headers=ada.headers)).json()
    path = f"/v1/models/{base['id']}"
    error_of(await client.delete(path, headers=ada.headers), 403, "permission_denied")
    error_of(await client.put(path, headers=ada.headers, json={"description": "mine"}), 403,
             "permission_denied")
    assert (await client.get(path, headers=ada.headers)).json() == base


async def test_another_orgs_model_is_not_found_on_every_route(
        client: httpx.AsyncClient) -> None:
    alice = await sign_up(client, "alice", name="Alice")
    bob = await sign_up(client, "bob", name="Bob")
    secret = await register(client, alice, "hidden-ft")
    path = f"/v1/models/{secret['id']}"
    responses = [
        await client.get(path, headers=bob.headers),
        await client.get("/v1/models/hidden-ft", headers=bob.headers),
        await client.put(path, headers=bob.headers, json={"description": "taken"}),
        await client.put(path, headers={**bob.headers, "If-Match": '"1"'}, json={"name": "x"}),
        await client.delete(path, headers=bob.headers),
        await client.post("/v1/models", headers=bob.headers,
                          json={"name": "x", "base_model": secret["id"],
                                "weights_uri": "s3://w"}),
    ]
    for response in responses:
        error_of(response, 404, "not_found")
        assert alice.org_id not in response.text and "s3://" not in response.text
    assert secret["id"] not in {m["id"] for m in (await listed(client, bob, limit=100))["data"]}
    assert (await client.get(path, headers=alice.headers)).json() == secret


async def test_wrong_ids_are_not_found(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    for bad in ("ds_" + "0" * 32, "model_" + "0" * 32, "model_xyz"):
        error_of(await client.delete(f"/v1/models/{bad}", headers=ada.headers), 404)
        error_of(await client.get(f"/v1/models/{bad}", headers=ada.headers), 404)


class FakeUsage:
    def __init__(self, users: dict[UUID, list[str]]) -> None:
        self.users = users

    def users_of(self, model_id: UUID) -> list[str]:
        return self.users.get(model_id, [])


async def test_delete_of_a_model_in_use_names_the_user(client: httpx.AsyncClient,
                                                       plane: ControlPlane) -> None:
    ada = await sign_up(client)
    model = await register(client, ada)
    model_uuid = UUID(hex=model["id"].removeprefix("model_"))
    plane.models.usage = FakeUsage({model_uuid: ["dep_" + "1" * 32]})
    response = await client.delete(f"/v1/models/{model['id']}", headers=ada.headers)
    error = error_of(response, 409, "model_in_use")
    assert "dep_" + "1" * 32 in error["message"]
    assert (await client.get(f"/v1/models/{model['id']}", headers=ada.headers)).status_code == 200
