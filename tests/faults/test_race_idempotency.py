"""Concurrent duplicate creates with one `Idempotency-Key`: one resource, one answer.

For projects, datasets, models, deployments and fine-tuning jobs, 20 POSTs with one key and
one body race 5 POSTs with the same key and another body, over real HTTP (`bitstride dev` on
Postgres). The key derives the aggregate's id, so every racer targets the same aggregate: the
event store lets one create win and the others, retrying on fresh state, find it. Whichever
body won, every request that sent it gets the first answer, byte for byte (a racer that lost
while the first was still in flight included); every request with the other body gets 409
`idempotency_key_reused`; exactly one resource exists; and each 2xx is readable at once
(read-your-writes holds for replayed answers too). Never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from infra.settings import Settings
from tests.e2e.conftest import Account, in_process, sign_up
from tests.faults.racing import burst, dev_on_postgres, error_code, race_client, validated_dataset
from tests.support.training import BASE
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres]

SAME_BODY, OTHER_BODY = 20, 5
UPSTREAM = "http://127.0.0.1:9/v1"
PROJECTION_LAG_SECONDS = 0.3  # injected: how long the first create's event stays unprojected


async def keyed_create(client: httpx.AsyncClient, account: Account, path: str, key: str,
                       body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response | None]:
    """The create, and for a 2xx the object read back at once (None otherwise)."""
    created = await client.post(path, json=body,
                                headers={**account.headers, "Idempotency-Key": key})
    if not created.is_success:
        return created, None
    return created, await client.get(f"{path}/{created.json()['id']}", headers=account.headers)


async def ids(client: httpx.AsyncClient, account: Account, path: str) -> set[str]:
    listed = await client.get(path, params={"limit": 100}, headers=account.headers)
    assert listed.status_code == 200, listed.text
    return {item["id"] for item in listed.json()["data"]}


async def check_one_resource(client: httpx.AsyncClient, account: Account, path: str, *,
                             status: int, body: dict[str, Any], other: dict[str, Any]) -> None:
    key = f"race-{path.rsplit('/', 1)[-1]}"
    before = await ids(client, account, path)
    calls: list[Callable[[], Awaitable[tuple[httpx.Response, httpx.Response | None]]]] = [
        lambda: keyed_create(client, account, path, key, body)] * SAME_BODY
    calls += [lambda: keyed_create(client, account, path, key, other)] * OTHER_BODY
    results = await burst(calls)

    answers = [created for created, _ in results]
    winners = [number for number, created in enumerate(answers) if created.is_success]
    assert winners, [created.text for created in answers]
    won = winners[0] < SAME_BODY  # which body the first create carried
    same_as_winner = range(SAME_BODY) if won else range(SAME_BODY, SAME_BODY + OTHER_BODY)
    for number, (created, read_back) in enumerate(results):
        if number in same_as_winner:
            assert created.status_code == status, created.text
            assert created.content == answers[winners[0]].content
            assert read_back is not None and read_back.status_code == 200, read_back
            assert read_back.json()["id"] == created.json()["id"]
        else:
            assert created.status_code == 409, created.text
            assert error_code(created) == "idempotency_key_reused"
    assert await ids(client, account, path) - before == {answers[winners[0]].json()["id"]}


async def test_duplicate_keyed_creates_race_to_one_resource(postgres_settings: Settings,
                                                            tmp_path: Path) -> None:
    with dev_on_postgres(postgres_settings, tmp_path / "dev.log") as base_url:
        async with race_client(base_url) as client:
            ada = await sign_up(client)
            await check_one_resource(client, ada, "/v1/projects", status=201,
                                     body={"name": "raced"}, other={"name": "other"})
            await check_one_resource(
                client, ada, "/v1/datasets", status=201,
                body={"name": "raced", "purpose": "fine_tuning", "format": "chat"},
                other={"name": "other", "purpose": "fine_tuning", "format": "chat"})
            await check_one_resource(
                client, ada, "/v1/models", status=201,
                body={"name": "raced", "base_model": BASE, "weights_uri": "s3://w/raced"},
                other={"name": "other", "base_model": BASE, "weights_uri": "s3://w/other"})
            await check_one_resource(
                client, ada, "/v1/deployments", status=201,
                body={"model": BASE, "backend": "upstream", "upstream_url": UPSTREAM},
                other={"model": BASE, "backend": "upstream", "upstream_url": UPSTREAM,
                       "name": "b"})
            training_file = await validated_dataset(client, ada)
            await check_one_resource(
                client, ada, "/v1/fine_tuning/jobs", status=200,
                body={"model": BASE, "training_file": training_file},
                other={"model": BASE, "training_file": training_file, "suffix": "other"})


async def test_a_replay_answers_once_its_object_is_readable(sqlite_settings: Settings) -> None:
    """The first create is saved but its event not yet projected (the projection lags: its
    runner is stopped, and catches up a moment later): a replay sent meanwhile answers 201
    only once a GET finds the project, as the first answer does."""
    async with in_process(sqlite_settings) as (plane, client):
        ada = await sign_up(client)
        runner = plane.read_models.supervisors["tenancy"].live
        assert runner is not None
        runner.stop()
        head = plane.tenancy.recorder.max_notification_id() or 0
        keyed = {**ada.headers, "Idempotency-Key": "lagging"}
        answers: dict[str, httpx.Response] = {}

        async def first() -> None:
            answers["first"] = await client.post("/v1/projects", headers=keyed,
                                                 json={"name": "lagging"})

        async def saved() -> None:
            await anyio.to_thread.run_sync(lambda: wait_for(
                plane, plane.tenancy.recorder.max_notification_id,
                lambda position: (position or 0) > head))

        async def replay_then_read() -> None:
            await saved()
            answers["replay"] = await client.post("/v1/projects", headers=keyed,
                                                  json={"name": "lagging"})
            answers["read"] = await client.get(f"/v1/projects/{answers['replay'].json()['id']}",
                                               headers=ada.headers)

        async def projection_catches_up() -> None:
            await saved()
            await anyio.sleep(PROJECTION_LAG_SECONDS)
            await anyio.to_thread.run_sync(runner.catch_up)

        async with anyio.create_task_group() as group:
            for task in (first, replay_then_read, projection_catches_up):
                group.start_soon(task)
        assert answers["first"].status_code == answers["replay"].status_code == 201
        assert answers["replay"].content == answers["first"].content
        assert answers["read"].status_code == 200, answers["read"].text
