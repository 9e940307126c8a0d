"""`kill -9` of the worker in the middle of a training run, then a new worker.

The API runs in this process (no scheduler); the worker is a real `bitstride worker`
subprocess sharing its Postgres schemas and data directory. The trainer runs in a session
of its own and writes its reports to a file, so it outlives the killed worker; the new
worker's scheduler re-attaches and the job ends `succeeded` with every step recorded once,
one registered model and the usage billed once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from domain.shared.ids import parse_id
from infra.processes import ProcessDir
from infra.settings import Settings
from tests.e2e.conftest import ServerProcess, in_process, running, sign_up, stores_env
from tests.e2e.test_reference_training import REFERENCE, scheduler_done, usage_of
from tests.support.training import settle, slow_dataset
from tests.support.waiting import at_step, terminal

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres]


def worker_env(settings: Settings, heartbeat_seconds: float = 30) -> dict[str, str]:
    assert settings.database_url is not None
    return {**stores_env(settings), "TRAINING_EXECUTOR": "local",
            "TRAINING_HEARTBEAT_SECONDS": str(heartbeat_seconds)}


@contextmanager
def worker(settings: Settings, log: Path, heartbeat_seconds: float = 30
           ) -> Iterator[ServerProcess]:
    with running(["worker"], worker_env(settings, heartbeat_seconds), log) as process:
        process.wait_for_output("worker running")
        yield process


def kill_hard(process: ServerProcess) -> None:
    process.process.kill()  # SIGKILL: no shutdown code runs
    process.process.wait()


async def long_job(client: httpx.AsyncClient, headers: dict[str, str], train: str) -> str:
    """63 steps of about 0.15 s on the slow dataset: it outlasts a worker's restart."""
    response = await client.post("/v1/fine_tuning/jobs", headers=headers, json={
        "model": REFERENCE, "training_file": train,
        "method": {"type": "supervised", "supervised": {
            "hyperparameters": {"n_epochs": 10, "batch_size": 32}}}})
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    return job_id


async def test_a_run_outlives_a_killed_worker_and_the_next_worker_finishes_it(
        postgres_settings: Settings, tmp_path: Path) -> None:
    settings = postgres_settings.with_overrides(training_executor="none")
    async with in_process(settings) as (plane, client):
        ada = await sign_up(client)
        train = await slow_dataset(client, plane, ada)
        with worker(settings, tmp_path / "worker-1.log") as first:
            job_id = await long_job(client, ada.headers, train)
            await anyio.to_thread.run_sync(lambda: at_step(plane, job_id, 2))
            kill_hard(first)

        run = ProcessDir(settings.training_runs_dir / parse_id("ftjob", job_id).hex)
        assert run.pid() is not None  # the trainer outlived its worker
        seen = plane.training.get_or_none(parse_id("ftjob", job_id)).step

        with worker(settings, tmp_path / "worker-2.log"):
            job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
            await anyio.to_thread.run_sync(lambda: scheduler_done(plane))
        assert job.status.value == "succeeded", job.error
        assert job.step == job.total_steps == 63 and seen < 63
        await settle(plane)

        events = (await client.get(f"/v1/fine_tuning/jobs/{job_id}/events",
                                   headers=ada.headers, params={"limit": 100})).json()
        page, steps = events, []
        while True:
            steps += [event["data"]["step"] for event in page["data"]
                      if event["type"] == "metrics"]
            if not page["has_more"]:
                break
            page = (await client.get(f"/v1/fine_tuning/jobs/{job_id}/events",
                                     headers=ada.headers,
                                     params={"limit": 100, "after": page["data"][-1]["id"]}
                                     )).json()
        assert sorted(steps) == list(range(1, 64))  # every step once: none lost, none twice
        models = (await client.get("/v1/models", headers=ada.headers,
                                   params={"limit": 100})).json()["data"]
        assert [model["name"] for model in models].count(job.fine_tuned_model) == 1
        assert usage_of(plane, job_id) == {"fine_tuning.trained_tokens": job.trained_tokens}


async def test_a_run_gone_with_its_worker_fails_with_executor_lost(
        postgres_settings: Settings, tmp_path: Path) -> None:
    settings = postgres_settings.with_overrides(training_executor="none")
    async with in_process(settings) as (plane, client):
        ada = await sign_up(client)
        train = await slow_dataset(client, plane, ada)
        with worker(settings, tmp_path / "worker-1.log") as first:
            job_id = await long_job(client, ada.headers, train)
            await anyio.to_thread.run_sync(lambda: at_step(plane, job_id, 2))
            kill_hard(first)
        run = ProcessDir(settings.training_runs_dir / parse_id("ftjob", job_id).hex)
        assert run.signal(signal.SIGKILL)  # the machine lost the run too

        with worker(settings, tmp_path / "worker-2.log", heartbeat_seconds=2):
            job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
            await anyio.to_thread.run_sync(lambda: scheduler_done(plane))
        assert job.status.value == "failed"
        assert job.error is not None and job.error["code"] == "executor_lost"
        assert usage_of(plane, job_id) == {}
        assert not run.root.exists()  # the lost run's files are cleaned up
