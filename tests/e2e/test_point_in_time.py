"""Point-in-time reads over HTTP: `?as_of=` and `?version=` on every single-object GET."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import eventsourcing.domain
import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import create_project, error_of, sign_up
from tests.support.training import BASE, GRADER, dataset

pytestmark = pytest.mark.anyio


class Clock:
    """The event store's clock: real time, or a moment the test sets."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() if self.at is None else self.at, UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", clock)
    yield clock


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str],
              **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if params:  # a point-in-time read carries that version's ETag
        assert response.headers["etag"] == f'"{body["version"]}"'
    return body


async def test_projects_and_the_organization_as_they_were(client: httpx.AsyncClient,
                                                           clock: Clock) -> None:
    ada, bob = await sign_up(client), await sign_up(client, "bob")
    start = int(time.time()) + 1000
    clock.at = start + 0.5
    project = (await create_project(client, ada, "First name"))["id"]
    clock.at = start + 100.5
    renamed = await client.put(f"/v1/projects/{project}", headers=ada.headers,
                               json={"name": "Second name"})
    assert renamed.status_code == 200, renamed.text
    org = await client.put("/v1/orgs/current", headers=ada.headers, json={"name": "Renamed"})
    assert org.status_code == 200, org.text
    path = f"/v1/projects/{project}"

    assert (await get(client, path, ada.headers, version=1))["name"] == "First name"
    assert (await get(client, path, ada.headers, as_of=start))["name"] == "First name"
    assert (await get(client, path, ada.headers, as_of=start + 99))["version"] == 1
    assert (await get(client, path, ada.headers, as_of=start + 100))["name"] == "Second name"
    assert (await get(client, path, ada.headers))["name"] == "Second name"  # the projection
    error_of(await client.get(path, headers=ada.headers, params={"as_of": start - 1}), 404)
    past = error_of(await client.get(path, headers=ada.headers, params={"version": 3}), 404)
    assert "current version is 2" in past["message"]
    both = error_of(await client.get(path, headers=ada.headers,
                                     params={"version": 1, "as_of": start}), 400)
    assert both["param"] == "version"
    error_of(await client.get(path, headers=ada.headers, params={"version": 0}), 400)
    for other in ({"version": 1}, {"version": 3}, {"as_of": start + 200}):
        hidden = error_of(await client.get(path, headers=bob.headers, params=other), 404)
        assert "version" not in hidden["message"]
    wrong_type = f"/v1/datasets/ds_{project.partition('_')[2]}"
    error_of(await client.get(wrong_type, headers=ada.headers, params={"version": 1}), 404)

    first = await get(client, "/v1/orgs/current", ada.headers, version=1)
    assert first["name"] != "Renamed" and first["id"] == ada.org_id
    assert (await get(client, "/v1/orgs/current", ada.headers, as_of=start + 100))[
        "name"] == "Renamed"


async def test_every_single_get_takes_a_version(client: httpx.AsyncClient,
                                                plane: ControlPlane) -> None:
    ada, bob = await sign_up(client), await sign_up(client, "bob")
    chat = await dataset(client, plane, ada)
    prompts = await dataset(client, plane, ada, purpose="rl", data_format="prompt")
    created = {
        "fine_tuning/jobs": await client.post("/v1/fine_tuning/jobs", headers=ada.headers,
                                              json={"model": BASE, "training_file": chat}),
        "rl/jobs": await client.post("/v1/rl/jobs", headers=ada.headers, json={
            "model": BASE, "training_file": prompts, "grader": GRADER}),
        "models": await client.post("/v1/models", headers=ada.headers, json={
            "name": "mine", "base_model": BASE, "weights_uri": "s3://weights/mine"}),
        "deployments": await client.post("/v1/deployments", headers=ada.headers, json={
            "model": BASE, "backend": "upstream", "upstream_url": "http://127.0.0.1:9"}),
    }
    paths = [f"/v1/datasets/{chat}"] + [
        f"/v1/{route}/{response.json()['id']}" for route, response in created.items()]
    now = int(time.time()) + 1
    for path in paths:
        current = await get(client, path, ada.headers)
        first = await get(client, path, ada.headers, version=1)
        assert first["version"] == 1 and first["id"] == current["id"], path
        assert (await get(client, path, ada.headers, as_of=now))["version"] == current[
            "version"], path
        error_of(await client.get(path, headers=ada.headers, params={"version": 999}), 404)
        error_of(await client.get(path, headers=bob.headers, params={"version": 1}), 404)
        error_of(await client.get(path, headers=ada.headers,
                                  params={"version": 1, "as_of": now}), 400)
    assert (await get(client, f"/v1/datasets/{chat}", ada.headers, version=1))[
        "versions"] == []
    rl = paths[2].rpartition("/")[2]
    error_of(await client.get(f"/v1/fine_tuning/jobs/ftjob_{rl.partition('_')[2]}",
                              headers=ada.headers, params={"version": 1}), 404)
