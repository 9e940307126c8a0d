"""`/v1/deployments` over HTTP: create, list, get, put, errors, If-Match, idempotency, tenants
and scopes. The deployment controller does not run here: tests play its part with its commands
on `plane.serving`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest

from domain.shared.cause import SYSTEM
from domain.shared.ids import parse_id
from infra.catalog.loader import DEFAULT_CATALOG_FILE
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.training import BASE

pytestmark = pytest.mark.anyio
DEPLOYMENTS = "/v1/deployments"
UPSTREAM = "http://127.0.0.1:9000/v1"
NOT_SERVABLE = "embedder-test"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The shipped catalog plus a base model that cannot be served."""
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    document = json.loads(DEFAULT_CATALOG_FILE.read_text())
    document["models"].append({"name": NOT_SERVABLE, "context_length": 512, "tokenizer": "t",
                               "capabilities": {"training": [], "serving": False}})
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(document))
    return settings.with_overrides(model_catalog_file=catalog)


async def create(client: httpx.AsyncClient, headers: dict[str, str] | Account,
                 **body: Any) -> httpx.Response:
    headers = headers.headers if isinstance(headers, Account) else headers
    return await client.post(DEPLOYMENTS, headers=headers, json={
        "model": BASE, "backend": "upstream", "upstream_url": UPSTREAM, **body})


async def created(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await create(client, account, **body)
    assert response.status_code == 201, response.text
    deployment: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'"{deployment["version"]}"'
    return deployment


async def controller(plane: ControlPlane, act: Callable[[], object]) -> None:
    """Play the deployment controller, then wait until the projection shows it."""
    await anyio.to_thread.run_sync(act)
    await anyio.to_thread.run_sync(lambda: plane.await_projections(
        plane.serving.name, plane.serving.recorder.max_notification_id()))


def uuid_of(deployment: dict[str, Any]) -> Any:
    return parse_id("dep", deployment["id"])


async def test_create_get_list_and_the_replicas(client: httpx.AsyncClient,
                                                plane: ControlPlane) -> None:
    ada = await sign_up(client)
    deployment = await created(client, ada, name="chat", min_replicas=2, max_replicas=3,
                               metadata={"team": "a"})
    assert deployment["id"].startswith("dep_") and deployment["object"] == "deployment"
    assert deployment["model"].startswith("model_")
    assert (deployment["status"], deployment["desired_state"], deployment["version"]) == (
        "creating", "running", 1)
    assert deployment["allowed_actions"] == ["update", "stop"]
    assert (deployment["min_replicas"], deployment["max_replicas"],
            deployment["replicas_wanted"]) == (2, 3, 2)
    assert (deployment["backend"], deployment["upstream_url"], deployment["name"]) == (
        "upstream", UPSTREAM, "chat")
    assert deployment["replicas"] == [] and deployment["error"] is None
    assert deployment["replica_stats"] == {"starting": 0, "ready": 0, "failed": 0,
                                           "stopped": 0}
    assert deployment["organization_id"] == ada.org_id and deployment["project_id"] is None
    got = await client.get(f"{DEPLOYMENTS}/{deployment['id']}", headers=ada.headers)
    assert got.status_code == 200 and got.json() == deployment
    assert got.headers["etag"] == '"1"'

    target = uuid_of(deployment)
    await controller(plane, lambda: (
        plane.serving.replica_starting(target, "r0", 1_700_000_000.0, SYSTEM),
        plane.serving.replica_ready(target, "r0", "http://10.0.0.1:8000", 1_700_000_005.0,
                                    SYSTEM),
        plane.serving.replica_ready(target, "r1", "http://10.0.0.2:8000", 1_700_000_006.0,
                                    SYSTEM)))
    ready = (await client.get(f"{DEPLOYMENTS}/{deployment['id']}", headers=ada.headers)).json()
    assert (ready["status"], ready["version"]) == ("ready", 4)
    assert ready["replicas"] == [
        {"id": "r0", "status": "ready", "reason": None, "started_at": 1_700_000_000,
         "ready_at": 1_700_000_005, "failed_at": None},
        {"id": "r1", "status": "ready", "reason": None, "started_at": 1_700_000_006,
         "ready_at": 1_700_000_006, "failed_at": None}]
    assert "10.0.0.1" not in json.dumps(ready)  # replicas' addresses are the gateway's
    assert [route.deployment_id for route in plane.deployment_queries.routable()] == [
        target.hex]

    second = await created(client, ada, backend="reference", upstream_url=None)
    assert (second["backend"], second["upstream_url"], second["min_replicas"],
            second["max_replicas"]) == ("reference", None, 1, 1)
    third = await created(client, ada, model="qwen2.5-0.5b-instruct")
    first_page = (await client.get(DEPLOYMENTS, headers=ada.headers,
                                   params={"limit": 2})).json()
    assert [d["id"] for d in first_page["data"]] == [third["id"], second["id"]]
    assert (first_page["object"], first_page["has_more"], first_page["first_id"],
            first_page["last_id"]) == ("list", True, third["id"], second["id"])
    rest = (await client.get(DEPLOYMENTS, headers=ada.headers,
                             params={"limit": 2, "after": first_page["last_id"]})).json()
    assert [d["id"] for d in rest["data"]] == [deployment["id"]] and rest["has_more"] is False
    assert rest["data"][0] == ready


async def test_put_stops_starts_and_rescales_with_if_match(client: httpx.AsyncClient,
                                                           plane: ControlPlane) -> None:
    ada = await sign_up(client)
    deployment = await created(client, ada)
    path = f"{DEPLOYMENTS}/{deployment['id']}"
    target = uuid_of(deployment)
    await controller(plane, lambda: plane.serving.replica_ready(
        target, "r0", "http://10.0.0.1:8000", 10.0, SYSTEM))

    stale = error_of(await client.put(path, headers={**ada.headers, "If-Match": '"1"'},
                                      json={"max_replicas": 2}), 412, "precondition_failed")
    assert "current version is 2" in stale["message"]
    error_of(await client.put(path, headers={**ada.headers, "If-Match": "soon"},
                              json={"max_replicas": 2}), 400, "invalid_request")
    scaled = await client.put(path, headers={**ada.headers, "If-Match": '"2"'},
                              json={"min_replicas": 2, "max_replicas": 2})
    assert scaled.status_code == 200, scaled.text
    body = scaled.json()
    assert (body["status"], body["min_replicas"], body["replicas_wanted"], body["version"]) == (
        "updating", 2, 2, 3)
    assert scaled.headers["etag"] == '"3"'
    same = await client.put(path, headers=ada.headers, json={"min_replicas": 2})
    assert same.status_code == 200 and same.json()["version"] == 3  # nothing changed

    stopping = (await client.put(path, headers=ada.headers,
                                 json={"desired_state": "stopped"})).json()
    assert (stopping["status"], stopping["desired_state"], stopping["allowed_actions"],
            stopping["replicas_wanted"]) == ("stopping", "stopped", ["update"], 0)
    refused = error_of(await client.put(path, headers=ada.headers,
                                        json={"desired_state": "running"}),
                       409, "invalid_state_transition")
    assert (refused["current_state"], refused["allowed_actions"]) == ("stopping", ["update"])
    await controller(plane, lambda: plane.serving.replica_stopped(target, "r0", 70.0, SYSTEM))
    stopped = (await client.get(path, headers=ada.headers)).json()
    assert (stopped["status"], stopped["allowed_actions"], stopped["replicas"]) == (
        "stopped", ["update", "start"], [])
    assert stopped["replica_stats"]["stopped"] == 1
    started = (await client.put(path, headers=ada.headers,
                                json={"desired_state": "running"})).json()
    assert (started["status"], started["desired_state"]) == ("creating", "running")
    assert (await client.get(path, headers=ada.headers)).json() == started

    await controller(plane, lambda: plane.serving.fail(
        target, {"code": "upstream_unhealthy", "message": "No answer from the upstream."},
        80.0, SYSTEM))
    failed = (await client.get(path, headers=ada.headers)).json()
    assert (failed["status"], failed["error"], failed["failed_at"]) == (
        "failed", {"code": "upstream_unhealthy", "message": "No answer from the upstream."},
        80)
    assert failed["allowed_actions"] == ["update", "stop", "start"]
    retried = (await client.put(path, headers=ada.headers,
                                json={"desired_state": "running"})).json()
    assert (retried["status"], retried["error"]) == ("creating", None)


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "no-such-model"}, "model"),
    ({"model": "model_" + "0" * 32}, "model"),
    ({"model": NOT_SERVABLE}, "model"),
    ({"min_replicas": 3, "max_replicas": 2}, "min_replicas"),
    ({"min_replicas": 0}, "min_replicas"),
    ({"max_replicas": 9}, "max_replicas"),
    ({"upstream_url": None}, "upstream_url"),
    ({"upstream_url": "ftp://files.example/x"}, "upstream_url"),
    ({"upstream_url": "not a url"}, "upstream_url"),
    ({"upstream_url": "https://user:pw@up.example/v1"}, "upstream_url"),
    ({"backend": "reference"}, "upstream_url"),
    ({"backend": "vllm"}, "backend"),
    ({"name": ""}, "name"),
    ({"project_id": "proj_" + "0" * 32}, "project_id"),
    ({"replicas": 2}, "replicas"),
])
async def test_create_errors_name_the_param(client: httpx.AsyncClient, body: dict[str, Any],
                                            param: str) -> None:
    ada = await sign_up(client)
    response = await create(client, ada, **body)
    error = error_of(response, 404 if param == "project_id" else 400)
    assert error["param"] == param, error
    assert (await client.get(DEPLOYMENTS, headers=ada.headers)).json()["data"] == []


async def test_put_errors_name_the_param(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    path = f"{DEPLOYMENTS}/{(await created(client, ada, min_replicas=2))['id']}"
    for body, param in (({"desired_state": "paused"}, "desired_state"),
                        ({"max_replicas": 1}, "max_replicas"),
                        ({"min_replicas": 9}, "min_replicas"),
                        ({"upstream_url": UPSTREAM}, "upstream_url")):
        error = error_of(await client.put(path, headers=ada.headers, json=body), 400)
        assert error["param"] == param, error
    assert (await client.get(path, headers=ada.headers)).json()["version"] == 1


async def test_idempotency_key_returns_the_first_deployment(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    keyed = {**ada.headers, "Idempotency-Key": "dep-1"}
    first = await create(client, keyed, name="a")
    again = await create(client, keyed, name="a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    error_of(await create(client, keyed, name="b"), 409, "idempotency_key_reused")
    bob = await sign_up(client, "bob", name="Bob")
    theirs = await create(client, {**bob.headers, "Idempotency-Key": "dep-1"}, name="a")
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert len((await client.get(DEPLOYMENTS, headers=ada.headers)).json()["data"]) == 1


async def test_another_orgs_deployment_is_not_found_everywhere(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    bob = await sign_up(client, "bob", name="Bob")
    deployment = await created(client, ada)
    path = f"{DEPLOYMENTS}/{deployment['id']}"
    for response in (await client.get(path, headers=bob.headers),
                     await client.put(path, headers=bob.headers,
                                      json={"desired_state": "stopped"}),
                     await client.put(path, headers={**bob.headers, "If-Match": '"1"'},
                                      json={"min_replicas": 2, "max_replicas": 2}),
                     await client.get(f"{DEPLOYMENTS}/ftjob_{deployment['id'][4:]}",
                                      headers=ada.headers),
                     await client.put(f"{DEPLOYMENTS}/dep_123", headers=ada.headers,
                                      json={})):
        error_of(response, 404, "not_found")
    assert (await client.get(DEPLOYMENTS, headers=bob.headers)).json()["data"] == []
    listed = await client.get(DEPLOYMENTS, headers=bob.headers,
                              params={"after": deployment["id"]})
    assert listed.status_code == 200 and listed.json()["data"] == []
    unchanged = (await client.get(path, headers=ada.headers)).json()
    assert unchanged == deployment


async def test_scopes_and_project_keys(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    mine = await create_project(client, ada, "mine")
    other = await create_project(client, ada, "other")
    reader = bearer(await make_key(client, ada, ["deployments:read"]))
    error_of(await create(client, reader), 403, "insufficient_scope")
    jobs_only = bearer(await make_key(client, ada, ["fine_tuning:write"]))
    error_of(await client.get(DEPLOYMENTS, headers=jobs_only), 403, "insufficient_scope")

    key = bearer(await make_key(client, ada, ["deployments:write"], project_id=mine["id"]))
    ours = (await create(client, key)).json()
    assert ours["project_id"] == mine["id"]
    error_of(await create(client, key, project_id=other["id"]), 404, "not_found")
    theirs = await created(client, ada, project_id=other["id"])
    assert [d["id"] for d in (await client.get(DEPLOYMENTS, headers=key)).json()["data"]] == [
        ours["id"]]
    error_of(await client.get(f"{DEPLOYMENTS}/{theirs['id']}", headers=key), 404, "not_found")
    error_of(await client.put(f"{DEPLOYMENTS}/{theirs['id']}", headers=key,
                              json={"desired_state": "stopped"}), 404, "not_found")
    error_of(await client.put(f"{DEPLOYMENTS}/{ours['id']}", headers=reader,
                              json={"desired_state": "stopped"}), 403, "insufficient_scope")
    stopped = await client.put(f"{DEPLOYMENTS}/{ours['id']}", headers=key,
                               json={"desired_state": "stopped"})
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert (await client.get(f"{DEPLOYMENTS}/{theirs['id']}", headers=reader)).status_code \
        == 200


async def test_a_model_served_by_a_deployment_cannot_be_deleted(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    registered = await client.post("/v1/models", headers=ada.headers, json={
        "name": "ada-served", "base_model": BASE, "weights_uri": "s3://weights/ada"})
    assert registered.status_code == 201, registered.text
    model_id = registered.json()["id"]
    deployment = await created(client, ada, model="ada-served")  # by name
    assert deployment["model"] == model_id
    refused = error_of(await client.delete(f"/v1/models/{model_id}", headers=ada.headers),
                       409, "model_in_use")
    assert deployment["id"] in refused["message"]
    stopped = await client.put(f"{DEPLOYMENTS}/{deployment['id']}", headers=ada.headers,
                               json={"desired_state": "stopped"})
    assert stopped.json()["status"] == "stopped"
    deleted = await client.delete(f"/v1/models/{model_id}", headers=ada.headers)
    assert deleted.status_code == 200, deleted.text
    error_of(await create(client, ada, model=model_id), 400, "invalid_value")


async def test_the_openapi_document_names_every_deployment_route(
        client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    paths = document["paths"]
    assert set(paths[DEPLOYMENTS]) == {"get", "post"}
    assert set(paths[f"{DEPLOYMENTS}/{{deployment_id}}"]) == {"get", "put"}
    operations = {operation["operationId"] for path, item in paths.items()
                  if path.startswith(DEPLOYMENTS) for operation in item.values()}
    assert operations == {"createDeployment", "listDeployments", "getDeployment",
                          "updateDeployment"}
    assert "412" in paths[f"{DEPLOYMENTS}/{{deployment_id}}"]["put"]["responses"]
