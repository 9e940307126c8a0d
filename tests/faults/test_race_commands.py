"""50 concurrent commands on one deployment, and on one job, over real HTTP.

The server is `bitstride dev` on Postgres; meanwhile the test process plays the worker on the
same store (the deployment controller's replica reports, a job executor's progress), so the
requests also race writers of another process. Every answer must be 2xx or 409 (412 only for
If-Match), never 500, and the log must account for every answer: each request that wrote has
exactly one event, at the version its answer shows, and its answer equals the aggregate
replayed to that version; a refused request wrote nothing; the version is the number of
events; the read model ends equal to the log.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
import httpx
import pytest

from application.serving.service import DeploymentService
from application.shared.base import BitstrideApplication
from application.training.service import TrainingService
from domain.shared.cause import Cause
from domain.shared.ids import parse_id
from infra.settings import Settings
from interfaces.control_plane import tenancy_env
from tests.e2e.conftest import Account, sign_up
from tests.faults.racing import (
    burst,
    dev_on_postgres,
    error_code,
    race_client,
    validated_dataset,
    writers_of,
)
from tests.support.training import BASE

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres]

REQUESTS = 50
SETTLE_SECONDS = 10.0
WORKER = "worker"  # request ids of the worker's events start with this
DEPLOYMENT_BODIES: list[dict[str, Any]] = [
    {"desired_state": "stopped"}, {"desired_state": "running"},
    {"min_replicas": 1, "max_replicas": 3}, {"min_replicas": 2, "max_replicas": 4},
    {"desired_state": "running", "min_replicas": 1, "max_replicas": 2}]
IF_MATCH_EVERY = 10  # every tenth PUT names the created version in If-Match
WORKER_PAUSE_SECONDS = 0.1  # a real controller or executor pauses between writes


def worker_app(cls: type[BitstrideApplication], settings: Settings) -> Any:
    """The context's application in this process, on the server's store."""
    return cls(env=tenancy_env(settings))


def cause(label: str) -> Cause:
    return Cause(actor_id=WORKER, actor_kind="system", request_id=f"{WORKER}-{label}")


async def put_deployment(client: httpx.AsyncClient, account: Account, path: str, number: int
                         ) -> httpx.Response:
    headers = {**account.headers, "X-Request-ID": f"race-{number}"}
    if number % IF_MATCH_EVERY == 0:
        headers["If-Match"] = '"1"'
    return await client.put(path, headers=headers,
                            json=DEPLOYMENT_BODIES[number % len(DEPLOYMENT_BODIES)])


async def post_cancel(client: httpx.AsyncClient, account: Account, path: str, number: int
                      ) -> httpx.Response:
    return await client.post(path, headers={**account.headers,
                                            "X-Request-ID": f"race-{number}"})


def play_controller(serving: DeploymentService, target: UUID, done: threading.Event) -> None:
    """Replicas start, become ready and stop, one after another, until the burst is over.

    A replica's three events go back to back, then the controller pauses as a real one does
    between reconciliations. In a tight loop from the test's own process, and still with 20 ms
    pauses on the slow CI machine, it won nearly every version race for the HTTP writers'
    whole retry budget: all but one of them answered 409 `conflict` (allowed, but then the
    race checks almost nothing). At 0.1 s it still writes a few dozen events in the burst."""
    for number in itertools.count():
        if done.is_set() and number >= 3:
            return
        replica, at = f"replica-{number}", time.time()
        serving.replica_starting(target, replica, at, cause(f"{number}-starting"))
        serving.replica_ready(target, replica, "http://127.0.0.1:9/v1", at,
                              cause(f"{number}-ready"))
        serving.replica_stopped(target, replica, at, cause(f"{number}-stopped"))
        done.wait(WORKER_PAUSE_SECONDS)


def play_executor(training: TrainingService, target: UUID, done: threading.Event) -> None:
    """Progress reports until a cancel is asked, then the acknowledgement.

    Reports are paused as a real executor's steps are; in a tight loop the executor won
    every version race on a slow machine and all fifty cancels answered 409 `conflict`."""
    for seq in itertools.count(1):
        job = training.report(target, seq=seq, step=seq, metrics={"train_loss": 1.0 / seq},
                              at=time.time(), cause=cause(f"report-{seq}")).aggregate
        if job.status.value == "cancelling":
            training.acknowledge_cancel(target, seq=seq + 1, at=time.time(),
                                        cause=cause(f"ack-{seq + 1}"))
            return
        assert not done.is_set() or seq < 1_000, f"no cancel seen: {job.status}"
        done.wait(WORKER_PAUSE_SECONDS)


async def race(requests: list[Callable[[], Any]], worker: Callable[[threading.Event], None]
               ) -> list[httpx.Response]:
    """The requests, all at once, while the worker writes in a thread of its own."""
    done = threading.Event()
    responses: list[httpx.Response] = []

    async def requests_then_done() -> None:
        responses.extend(await burst(requests))
        done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(requests_then_done)
        group.start_soon(anyio.to_thread.run_sync, worker, done)
    return responses


async def settled(client: httpx.AsyncClient, account: Account, path: str, version: int
                  ) -> dict[str, Any]:
    """The read model once it shows `version` (the worker's events came from this process,
    so the server's projection hears of them by polling the log; bounded)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        current: dict[str, Any] = (await client.get(path, headers=account.headers)).json()
        if current["version"] >= version:
            return current
        assert time.monotonic() < deadline, (current, version)
        await anyio.sleep(0.05)


async def check_accounted(client: httpx.AsyncClient, account: Account, path: str, *,
                          app: BitstrideApplication, target: UUID,
                          responses: list[httpx.Response], refused: set[str]) -> int:
    """Every answer matches the log; returns how many requests wrote."""
    by_request = {response.headers["x-request-id"]: response for response in responses}
    assert len(by_request) == len(responses)
    for response in responses:
        assert response.status_code == 200 or error_code(response) in refused, response.text
    writers = writers_of(app, target)
    events = list(app.events.get(target))
    assert [event.originator_version for event in events] == list(range(1, len(events) + 1))
    http_writers = {rid: version for rid, version in writers.items() if rid.startswith("race-")}
    worker_writes = sum(rid.startswith(WORKER) for rid in writers)
    # One event per request that wrote, at the version its answer shows.
    assert len(events) == 1 + len(http_writers) + worker_writes
    for rid, version in http_writers.items():
        assert by_request[rid].status_code == 200 and by_request[rid].json()["version"] == version
    # Each 200 is the aggregate as the log has it at that version (a no-op answers the
    # current version); read from the log over HTTP (`?version=`), all at once.
    ok = [response for response in responses if response.status_code == 200]
    versions = [response.json()["version"] for response in ok]
    then = await burst([lambda v=version: client.get(path, params={"version": v},
                                                     headers=account.headers)
                        for version in versions])
    for response, replayed in zip(ok, then, strict=True):
        assert replayed.status_code == 200, replayed.text
        assert response.json() == replayed.json()
    final = await settled(client, account, path, len(events))
    replayed_final = (await client.get(path, params={"version": len(events)},
                                       headers=account.headers)).json()
    assert final == replayed_final
    return len(http_writers)


async def test_fifty_updates_and_stops_race_on_one_deployment(
        postgres_settings: Settings, tmp_path: Path) -> None:
    serving = worker_app(DeploymentService, postgres_settings)
    with dev_on_postgres(postgres_settings, tmp_path / "dev.log") as base_url:
        async with race_client(base_url) as client:
            ada = await sign_up(client)
            created = await client.post("/v1/deployments", headers=ada.headers, json={
                "model": BASE, "backend": "upstream", "upstream_url": "http://127.0.0.1:9/v1"})
            assert created.status_code == 201, created.text
            path = f"/v1/deployments/{created.json()['id']}"
            target = parse_id("dep", created.json()["id"])
            responses = await race(
                [lambda n=n: put_deployment(client, ada, path, n) for n in range(REQUESTS)],
                lambda done: play_controller(serving, target, done))
            wrote = await check_accounted(
                client, ada, path, app=serving, target=target, responses=responses,
                refused={"invalid_state_transition", "conflict", "precondition_failed"})
            for response in responses[::IF_MATCH_EVERY]:  # If-Match "1": only a first write
                assert response.status_code == 412 or response.json()["version"] == 2
            assert all(response.status_code != 412 for number, response in enumerate(responses)
                       if number % IF_MATCH_EVERY)
            assert wrote >= 2, [response.status_code for response in responses]
    serving.close()


async def test_fifty_cancels_race_on_one_running_job(postgres_settings: Settings,
                                                     tmp_path: Path) -> None:
    training = worker_app(TrainingService, postgres_settings)
    with dev_on_postgres(postgres_settings, tmp_path / "dev.log") as base_url:
        async with race_client(base_url) as client:
            ada = await sign_up(client)
            training_file = await validated_dataset(client, ada)
            created = await client.post("/v1/fine_tuning/jobs", headers=ada.headers,
                                        json={"model": BASE, "training_file": training_file})
            assert created.status_code == 200, created.text
            target = parse_id("ftjob", created.json()["id"])
            job = training.files_validated(target, cause=cause("validated")).aggregate
            training.start(target, executor_id="race", total_steps=10_000,
                           resolved_hyperparameters=job.hyperparameters, at=time.time(),
                           cause=cause("start"))
            path = f"/v1/fine_tuning/jobs/{created.json()['id']}"
            responses = await race(
                [lambda n=n: post_cancel(client, ada, f"{path}/cancel", n)
                 for n in range(REQUESTS)],
                lambda done: play_executor(training, target, done))
            wrote = await check_accounted(client, ada, path, app=training, target=target,
                                          responses=responses,
                                          refused={"invalid_state_transition", "conflict"})
            assert wrote == 1  # running -> cancelling once; a cancelling job is not cancelled
            assert [r.status_code for r in responses].count(200) == 1
            final = (await client.get(path, headers=ada.headers)).json()
            assert final["status"] == "cancelled", final
    training.close()
