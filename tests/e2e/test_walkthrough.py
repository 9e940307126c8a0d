"""The operator's walkthrough against a real `bitstride dev` under uvicorn.

`walk_through` is the story told once: register, log in, manage projects with preconditions
and idempotency, rotate and reuse refresh tokens, log out, delete the organization. It runs
here against `bitstride dev` and in test_split_processes against separate processes.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from domain.shared.ids import parse_id
from domain.tenancy.lifecycle import Lifecycle
from interfaces.control_plane import ControlPlane
from projections.tenancy.projection import PROJECTION_NAME
from projections.tracking import SqlTrackingRecorder
from tests.e2e.conftest import (
    PASSWORD,
    Account,
    DevServer,
    create_project,
    error_of,
    log_in,
    sign_up,
)

pytestmark = pytest.mark.anyio

WAIT_SECONDS = 10.0


async def require_request_id(response: httpx.Response) -> None:
    assert response.headers.get("x-request-id"), (response.request.url, response.status_code)


def http_client(base_url: str) -> httpx.AsyncClient:
    """A client of a real server that checks every response carries X-Request-ID."""
    return httpx.AsyncClient(base_url=base_url, timeout=15.0,
                             event_hooks={"response": [require_request_id]})


async def assert_rejected_everywhere(client: httpx.AsyncClient, account: Account,
                                     project_id: str) -> None:
    """Every control-plane route refuses the token with 401 in the envelope."""
    headers = account.headers
    requests = [
        client.get("/v1/orgs/current", headers=headers),
        client.put("/v1/orgs/current", headers=headers, json={"name": "x"}),
        client.delete("/v1/orgs/current", headers=headers, params={"confirm": "x"}),
        client.get("/v1/projects", headers=headers),
        client.post("/v1/projects", headers=headers, json={"name": f"late-{uuid.uuid4().hex}"}),
        client.get(f"/v1/projects/{project_id}", headers=headers),
        client.put(f"/v1/projects/{project_id}", headers=headers, json={"description": "x"}),
        client.delete(f"/v1/projects/{project_id}", headers=headers),
        client.post("/v1/auth/logout", headers=headers),
    ]
    for pending in requests:
        response = await pending
        error = error_of(response, 401)
        assert error["type"] == "authentication_error"
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


async def walk_projects(client: httpx.AsyncClient, ada: Account) -> str:
    """Create, list, get, update (If-Match), idempotent create, delete. Returns a live id."""
    created = await client.post("/v1/projects", headers=ada.headers, json={
        "name": "Alpha", "description": "first", "metadata": {"team": "ml"}})
    assert created.status_code == 201, created.text
    alpha = created.json()
    assert alpha["id"].startswith("proj_") and alpha["object"] == "project"
    assert alpha["organization_id"] == ada.org_id
    assert (alpha["name"], alpha["description"], alpha["metadata"]) == (
        "Alpha", "first", {"team": "ml"})
    assert alpha["version"] == 1 and isinstance(alpha["created_at"], int)
    assert created.headers["etag"] == '"1"'

    listed = (await client.get("/v1/projects", headers=ada.headers)).json()
    assert listed["object"] == "list" and listed["has_more"] is False
    assert [p["id"] for p in listed["data"]] == [alpha["id"]]
    assert listed["first_id"] == listed["last_id"] == alpha["id"]

    fetched = await client.get(f"/v1/projects/{alpha['id']}", headers=ada.headers)
    assert fetched.status_code == 200 and fetched.json() == alpha
    assert fetched.headers["etag"] == '"1"'

    # If-Match: the current version succeeds, a stale one is 412 and changes nothing.
    updated = await client.put(f"/v1/projects/{alpha['id']}", headers={
        **ada.headers, "If-Match": '"1"'}, json={"description": "second"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2 and updated.json()["description"] == "second"
    assert updated.headers["etag"] == '"2"'
    stale = await client.put(f"/v1/projects/{alpha['id']}", headers={
        **ada.headers, "If-Match": '"1"'}, json={"description": "lost update"})
    error_of(stale, 412, "precondition_failed")
    now = (await client.get(f"/v1/projects/{alpha['id']}", headers=ada.headers)).json()
    assert (now["description"], now["version"]) == ("second", 2)

    # Idempotency-Key: a replay returns the first response; another body is refused.
    replay_headers = {**ada.headers, "Idempotency-Key": f"create-beta-{uuid.uuid4().hex}"}
    first = await client.post("/v1/projects", headers=replay_headers, json={"name": "Beta"})
    again = await client.post("/v1/projects", headers=replay_headers, json={"name": "Beta"})
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    reused = await client.post("/v1/projects", headers=replay_headers, json={"name": "Gamma"})
    error_of(reused, 409, "idempotency_key_reused")

    # Names are unique per organization, whatever the case.
    for taken in ("Alpha", "ALPHA"):
        duplicate = await client.post("/v1/projects", headers=ada.headers, json={"name": taken})
        assert error_of(duplicate, 409, "name_taken")["param"] == "name"

    # Delete (conditional too): gone for reads and lists, and its name is free again.
    stale_delete = await client.delete(f"/v1/projects/{alpha['id']}",
                                       headers={**ada.headers, "If-Match": '"1"'})
    error_of(stale_delete, 412, "precondition_failed")
    deleted = await client.delete(f"/v1/projects/{alpha['id']}",
                                  headers={**ada.headers, "If-Match": '"2"'})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": alpha["id"], "object": "project.deleted", "deleted": True}
    error_of(await client.get(f"/v1/projects/{alpha['id']}", headers=ada.headers), 404,
             "not_found")
    error_of(await client.delete(f"/v1/projects/{alpha['id']}", headers=ada.headers), 404,
             "not_found")
    listed = (await client.get("/v1/projects", headers=ada.headers)).json()
    assert [p["id"] for p in listed["data"]] == [first.json()["id"]]
    recreated = await create_project(client, ada, "Alpha")
    assert recreated["id"] != alpha["id"]
    return str(recreated["id"])


async def walk_sessions(client: httpx.AsyncClient, ada: Account, project_id: str) -> None:
    """Refresh rotates; reusing a rotated refresh token revokes the session; logout ends one."""
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": ada.refresh_token})
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert pair["refresh_token"] != ada.refresh_token
    fresh = Account(ada.email, ada.user_id, ada.org_id, pair["access_token"],
                    pair["refresh_token"])
    assert (await client.get("/v1/projects", headers=fresh.headers)).status_code == 200

    reuse = await client.post("/v1/auth/refresh", json={"refresh_token": ada.refresh_token})
    error_of(reuse, 401, "refresh_token_reused")
    await assert_rejected_everywhere(client, fresh, project_id)
    await assert_rejected_everywhere(client, ada, project_id)
    after = await client.post("/v1/auth/refresh", json={"refresh_token": fresh.refresh_token})
    error_of(after, 401)

    # A new login is a new session; logging out ends it everywhere.
    tokens = await log_in(client, ada.email)
    again = Account(ada.email, ada.user_id, ada.org_id, tokens["access_token"],
                    tokens["refresh_token"])
    assert (await client.get("/v1/orgs/current", headers=again.headers)).status_code == 200
    logout = await client.post("/v1/auth/logout", headers=again.headers)
    assert logout.status_code == 200, logout.text
    await assert_rejected_everywhere(client, again, project_id)
    error_of(await client.post("/v1/auth/refresh",
                               json={"refresh_token": again.refresh_token}), 401)


async def walk_organization_deletion(client: httpx.AsyncClient, ada: Account,
                                     project_id: str) -> dict[str, Any]:
    """Deleting the organization needs its exact name; then its tokens are refused."""
    org = (await client.get("/v1/orgs/current", headers=ada.headers)).json()
    assert org["id"] == ada.org_id and org["object"] == "organization"
    missing = await client.delete("/v1/orgs/current", headers=ada.headers)
    error_of(missing, 400)
    wrong = await client.delete("/v1/orgs/current", headers=ada.headers,
                                params={"confirm": org["name"] + " (not)"})
    assert error_of(wrong, 400)["param"] == "confirm"
    still = await client.get(f"/v1/projects/{project_id}", headers=ada.headers)
    assert still.status_code == 200, still.text

    deleted = await client.delete("/v1/orgs/current", headers=ada.headers,
                                  params={"confirm": org["name"]})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": ada.org_id, "object": "organization.deleted",
                              "deleted": True}
    await assert_rejected_everywhere(client, ada, project_id)
    return org


async def walk_through(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client, "ada")
    org = await client.get("/v1/orgs/current", headers=ada.headers)
    assert org.status_code == 200, org.text
    assert org.json()["id"] == ada.org_id and org.json()["owner_user_id"] == ada.user_id
    assert org.headers["etag"] == f'"{org.json()["version"]}"'

    project_id = await walk_projects(client, ada)
    await walk_sessions(client, ada, project_id)
    tokens = await log_in(client, ada.email)
    ada = Account(ada.email, ada.user_id, ada.org_id, tokens["access_token"],
                  tokens["refresh_token"])
    await walk_organization_deletion(client, ada, project_id)


@pytest.mark.e2e
async def test_walkthrough_against_bitstride_dev(dev_server: DevServer) -> None:
    async with http_client(dev_server.base_url) as client:
        await walk_through(client)


@pytest.mark.e2e
async def test_unknown_route_and_health_over_the_wire(dev_server: DevServer) -> None:
    async with http_client(dev_server.base_url) as client:
        health = await client.get("/health", headers={"X-Request-ID": "walk-1"})
        assert health.json() == {"status": "ok"}
        assert health.headers["x-request-id"] == "walk-1"
        error_of(await client.get("/v1/nothing-here"), 404, "not_found")


# -- organization deletion, in process (to look at the read model and the log) --------------


async def test_deleting_the_organization_deletes_its_projects_and_ends_logins(
        plane: ControlPlane, client: httpx.AsyncClient) -> None:
    ada = await sign_up(client, "owner")
    bob = await sign_up(client, "bystander", name="Bob")
    projects = [await create_project(client, ada, f"p{i}") for i in range(3)]
    bobs = await create_project(client, bob, "p0")
    org = (await client.get("/v1/orgs/current", headers=ada.headers)).json()

    deleted = await client.delete("/v1/orgs/current", headers=ada.headers,
                                  params={"confirm": org["name"]})
    assert deleted.status_code == 200, deleted.text
    assert (await client.get("/v1/projects", headers=ada.headers)).status_code == 401

    # Wait on positions, not on time: the closure handled the deletion, the projection the rest.
    closure = SqlTrackingRecorder(plane.read_engine, "organization-closure",
                                  plane.tracking_signal)
    closure.wait(plane.tenancy.name, plane.tenancy.recorder.max_notification_id(),
                 timeout=WAIT_SECONDS)
    plane.tracker(PROJECTION_NAME).wait(
        plane.tenancy.name, plane.tenancy.recorder.max_notification_id(), timeout=WAIT_SECONDS)

    org_hex = parse_id("org", ada.org_id).hex
    rows, _ = plane.queries.projects(org_hex, after=None, limit=100)
    assert rows == []
    for project in projects:
        aggregate = plane.tenancy.repository.get(parse_id("proj", project["id"]))
        assert aggregate.state is Lifecycle.DELETED
    assert plane.queries.organization(org_hex) is None

    # The auth service closed the organization: no new logins, no refreshes.
    login = await client.post("/v1/auth/login", json={"email": ada.email,
                                                      "password": PASSWORD})
    assert login.status_code in (401, 403), login.text
    assert login.json()["error"]["code"] == "organization_deleted"
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": ada.refresh_token})
    assert refresh.status_code in (401, 403), refresh.text

    # Another tenant is untouched.
    fetched = await client.get(f"/v1/projects/{bobs['id']}", headers=bob.headers)
    assert fetched.status_code == 200 and fetched.json() == bobs
