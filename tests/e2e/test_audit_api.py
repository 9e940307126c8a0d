"""`GET /v1/audit/events` over HTTP: entries, filters, pages, tenants and keys."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.datasets import create_dataset

pytestmark = pytest.mark.anyio
AUDIT = "/v1/audit/events"


async def settle_audit(plane: ControlPlane) -> None:
    """Until every audit read model has applied its log's head."""

    def wait() -> None:
        for name, model in plane.read_models.models.items():
            if name.startswith("audit"):
                head = model.app.recorder.max_notification_id()
                plane.tracker(name).wait(model.app.name, head, timeout=10)

    await anyio.to_thread.run_sync(wait)


async def audit(client: httpx.AsyncClient, headers: dict[str, str],
                **params: Any) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, headers=headers, params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def activity(client: httpx.AsyncClient, account: Account) -> tuple[str, str]:
    response = await client.post("/v1/projects", json={"name": "Audited"},
                                 headers={**account.headers, "Idempotency-Key": "first"})
    project = response.json()["id"]
    updated = await client.put(f"/v1/projects/{project}", headers=account.headers,
                               json={"description": "changed"})
    assert updated.status_code == 200, updated.text
    dataset = (await create_dataset(client, account, purpose="fine_tuning", format="chat"))["id"]
    return project, dataset


async def test_entries_filters_pages_tenants_and_keys(client: httpx.AsyncClient,
                                                      plane: ControlPlane) -> None:
    ada, bob = await sign_up(client), await sign_up(client, "bob")
    project, dataset = await activity(client, ada)
    await create_project(client, bob, "Bob's")
    await settle_audit(plane)

    entries = await audit(client, ada.headers)
    assert [e["type"] for e in entries] == ["dataset.created", "project.updated",
                                            "project.created", "organization.created"]
    updated = entries[1]
    assert updated["object"] == "audit.event"
    assert updated["id"] == f"{updated['log']}:{updated['position']}"
    assert updated["resource"] == {"type": "project", "id": project, "version": 2}
    assert updated["actor"] == {"id": ada.user_id, "kind": "user"}
    assert updated["request_id"] and updated["payload"] == {
        "name": "Audited", "description": "changed", "metadata": {}}
    assert entries[2]["idempotency_key"] == "first" and "cause" not in entries[2]["payload"]
    assert entries[0]["resource"]["id"] == dataset
    assert entries[3]["resource"]["id"] == ada.org_id

    by_resource = await audit(client, ada.headers, resource_id=project)
    assert [e["type"] for e in by_resource] == ["project.updated", "project.created"]
    assert [e["type"] for e in await audit(client, ada.headers, resource_type="dataset")] == [
        "dataset.created"]
    assert [e["id"] for e in await audit(client, ada.headers, type="project.updated")] == [
        updated["id"]]
    assert len(await audit(client, ada.headers, actor_id=ada.user_id)) == 4
    now = updated["effective_at"]
    assert await audit(client, ada.headers, start_time=now + 3600) == []
    assert len(await audit(client, ada.headers, start_time=now - 60, end_time=now + 60)) == 4

    first = (await client.get(AUDIT, headers=ada.headers, params={"limit": 3})).json()
    assert first["has_more"] is True and first["last_id"] == entries[2]["id"]
    rest = (await client.get(AUDIT, headers=ada.headers,
                             params={"limit": 3, "after": first["last_id"]})).json()
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in entries]
    assert rest["has_more"] is False

    error_of(await client.get(AUDIT, headers=ada.headers, params={"after": "nope"}), 400,
             "invalid_value")
    error_of(await client.get(AUDIT, headers=ada.headers,
                              params={"start_time": now, "end_time": now}), 400)

    seen_by_bob = await audit(client, bob.headers)
    assert [e["type"] for e in seen_by_bob] == ["project.created", "organization.created"]
    assert await audit(client, bob.headers, resource_id=project) == []
    assert (await client.get(AUDIT, headers=bob.headers, params={"after": entries[0]["id"]})
            ).json()["data"] == []

    org_key = await make_key(client, ada, ["audit:read"])
    assert len(await audit(client, bearer(org_key))) == 4
    project_key = await make_key(client, ada, ["audit:read"], project_id=project)
    error_of(await client.get(AUDIT, headers=bearer(project_key)), 403)
    other_scope = await make_key(client, ada, ["projects:read"])
    error_of(await client.get(AUDIT, headers=bearer(other_scope)), 403, "insufficient_scope")
