"""`GET /v1/usage` over HTTP: buckets, grouping, filters, pages, errors, tenants, project keys."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
import pytest

from application.usage.service import NewUsage
from domain.shared.cause import SYSTEM
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key

pytestmark = pytest.mark.anyio
DAY = 1_795_000_000 - 1_795_000_000 % 86400


async def record(plane: ControlPlane, account: Account, *items: tuple[str, str, int, float],
                 project: str | None = None) -> None:
    """(source, meter, quantity, at) records for the account's organization."""
    org = parse_id("org", account.org_id)
    project_id = parse_id("proj", project) if project else None
    usage = [NewUsage(source_kind="request", source_id=source, meter=meter, quantity=quantity,
                      org_id=org, project_id=project_id, occurred_at=at, model="model_x",
                      api_key_id="key_1")
             for source, meter, quantity, at in items]

    def write() -> None:
        position = plane.usage.record(usage, cause=SYSTEM)
        plane.await_projections(plane.usage.name, position)

    await anyio.to_thread.run_sync(write)


async def usage(client: httpx.AsyncClient, headers: dict[str, str], **params: Any
                ) -> httpx.Response:
    return await client.get("/v1/usage", headers=headers, params=params)


async def test_buckets_group_filter_and_page(client: httpx.AsyncClient,
                                             plane: ControlPlane) -> None:
    ada = await sign_up(client)
    await record(plane, ada, ("r1", "inference.input_tokens", 100, DAY + 10),
                 ("r1b", "inference.output_tokens", 40, DAY + 10),
                 ("r2", "inference.input_tokens", 50, DAY + 86400 + 5),
                 ("r3", "rl.grader_calls", 7, DAY + 2 * 86400))
    response = await usage(client, ada.headers, start_time=DAY, end_time=DAY + 3 * 86400,
                           bucket_width="1d", limit=2)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["object"] == "page" and page["has_more"] is True
    assert [b["start_time"] for b in page["data"]] == [DAY, DAY + 86400]
    assert page["data"][0]["results"] == [{
        "object": "usage.result", "num_records": 2,
        "quantities": {"inference.input_tokens": 100, "inference.output_tokens": 40}}]
    rest = (await usage(client, ada.headers, start_time=DAY, end_time=DAY + 3 * 86400,
                        bucket_width="1d", limit=2, page=page["next_page"])).json()
    assert [b["start_time"] for b in rest["data"]] == [DAY + 2 * 86400]
    assert rest["has_more"] is False and rest["next_page"] is None

    grouped = (await usage(client, ada.headers, start_time=DAY, end_time=DAY + 86400,
                           group_by=["meter", "model"], meters="inference.input_tokens")
               ).json()["data"][0]["results"]
    assert grouped == [{"object": "usage.result", "num_records": 1, "meter":
                        "inference.input_tokens", "model": "model_x",
                        "quantities": {"inference.input_tokens": 100}}]
    hourly = (await usage(client, ada.headers, start_time=DAY, end_time=DAY + 7200,
                          bucket_width="1h")).json()["data"]
    assert len(hourly) == 2 and hourly[1]["results"] == []


async def test_bad_queries_answer_400_naming_the_param(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    cases = [({}, "start_time"), ({"start_time": DAY, "end_time": DAY}, "end_time"),
             ({"start_time": DAY, "bucket_width": "2d"}, "bucket_width"),
             ({"start_time": DAY, "group_by": "user_id"}, "group_by"),
             ({"start_time": DAY, "meters": "gpu"}, "meters"),
             ({"start_time": DAY, "bucket_width": "1d", "limit": 32}, "limit"),
             ({"start_time": DAY, "page": "soon"}, "page"),
             ({"start_time": DAY, "page": "²"}, "page"),  # a digit int() cannot read
             ({"start_time": DAY, "page": "9" * 5000}, "page"),  # past int()'s digit limit
             ({"start_time": 10**30}, "start_time"),
             ({"start_time": DAY, "end_time": 10**30}, "end_time"),
             ({"start_time": DAY, "project_ids": "nope"}, "project_ids")]
    for params, param in cases:
        body = error_of(await usage(client, ada.headers, **params), 400)
        assert body["param"] == param, (params, body)


async def test_tenants_and_project_keys_see_only_their_own(client: httpx.AsyncClient,
                                                           plane: ControlPlane) -> None:
    ada, bob = await sign_up(client), await sign_up(client, "bob")
    mine = await create_project(client, ada, "mine")
    other = await create_project(client, ada, "other")
    await record(plane, ada, ("a1", "inference.input_tokens", 11, DAY), project=mine["id"])
    await record(plane, ada, ("a2", "inference.input_tokens", 22, DAY), project=other["id"])
    window = {"start_time": DAY, "end_time": DAY + 86400}
    assert (await usage(client, bob.headers, **window)).json()["data"][0]["results"] == []

    key = await make_key(client, ada, scopes=["usage:read"], project_id=mine["id"])
    scoped = (await usage(client, bearer(key), **window)).json()["data"][0]["results"]
    assert [r["quantities"] for r in scoped] == [{"inference.input_tokens": 11}]
    error_of(await usage(client, bearer(key), project_ids=other["id"], **window), 404)
    no_scope = await make_key(client, ada, scopes=["models:read"])
    error_of(await usage(client, bearer(no_scope), **window), 403)
