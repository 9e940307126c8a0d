"""The official `openai` client against a live `bitstride dev`: every fine-tuning call parses.

The scheduler and executors do not exist yet, so the test plays them: a TrainingService on the
server's SQLite event store records the worker's commands, and the server's projection picks
them up (cross-process, within its one-second recheck).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from application.training.service import TrainingService
from infra.eventstore import sqlite_env
from tests.e2e.conftest import DevServer, sign_up
from tests.support.datasets import fixture_bytes
from tests.support.training import BASE, play_worker

pytestmark = pytest.mark.anyio
WAIT_SECONDS = 15.0


def eventually(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


async def validated_dataset(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    made = await http.post("/v1/datasets", headers=headers, json={
        "name": "train", "purpose": "fine_tuning", "format": "chat"})
    dataset_id: str = made.json()["id"]
    uploaded = await http.post(f"/v1/datasets/{dataset_id}/upload",
                               headers={**headers, "Content-Type": "application/jsonl"},
                               content=fixture_bytes("valid_chat"))
    assert uploaded.status_code == 201, uploaded.text
    assert (await http.post(f"/v1/datasets/{dataset_id}/validate",
                            headers=headers)).status_code == 202
    deadline = time.monotonic() + WAIT_SECONDS
    while (await http.get(f"/v1/datasets/{dataset_id}", headers=headers)).json()[
            "status"] != "valid":
        assert time.monotonic() < deadline, "the dataset was not validated in time"
        time.sleep(0.1)
    return dataset_id


async def test_openai_fine_tuning_calls_parse(dev_server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=dev_server.base_url, timeout=10.0) as http:
        ada = await sign_up(http)
        train = await validated_dataset(http, ada.headers)
    client = openai.OpenAI(base_url=f"{dev_server.base_url}/v1", api_key=ada.access_token,
                           max_retries=0, timeout=10.0)
    # Stands in for the scheduler and an executor, on the server's event store.
    worker = TrainingService(env=sqlite_env(dev_server.data_dir / "bitstride.sqlite3"))
    try:
        job = client.fine_tuning.jobs.create(
            model=BASE, training_file=train, seed=5, suffix="ada",
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}})
        assert (job.object, job.status, job.seed, job.training_file) == (
            "fine_tuning.job", "validating_files", 5, train)
        assert job.hyperparameters.n_epochs == 2 and job.method is not None
        assert job.method.type == "supervised" and job.error is None
        assert job.model_extra is not None and job.model_extra["allowed_actions"] == ["cancel"]
        other = client.fine_tuning.jobs.create(model=BASE, training_file=train)

        first = client.fine_tuning.jobs.list(limit=1)
        assert [j.id for j in first.data] == [other.id] and first.has_more
        assert [j.id for j in client.fine_tuning.jobs.list(limit=1)] == [other.id, job.id]
        assert client.fine_tuning.jobs.retrieve(job.id).id == job.id

        cancelled = client.fine_tuning.jobs.cancel(other.id)
        assert cancelled.status == "cancelled" and cancelled.finished_at is not None

        play_worker(worker, job.id)
        assert eventually(
            lambda: client.fine_tuning.jobs.retrieve(job.id).status == "succeeded")
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.fine_tuned_model == "ft-test-model"
        assert done.trained_tokens == 1234 and done.result_files == ["results/metrics.csv"]

        events = list(client.fine_tuning.jobs.list_events(job.id, limit=2))  # pages through
        assert events[0].message == "The job has successfully completed"
        assert all(e.object == "fine_tuning.job.event" for e in events) and len(events) == 7
        assert events[-1].type == "message" and {e.level for e in events} == {"info"}

        checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id)
        assert [c.step_number for c in checkpoints.data] == [4, 2]
        assert checkpoints.data[0].fine_tuning_job_id == job.id
        assert checkpoints.data[0].metrics.train_loss == 0.5

        with pytest.raises(openai.BadRequestError) as bad:
            client.fine_tuning.jobs.create(model="no-such-model", training_file=train)
        assert bad.value.code == "invalid_value" and bad.value.param == "model"
        with pytest.raises(openai.ConflictError) as conflict:
            client.fine_tuning.jobs.cancel(job.id)
        assert conflict.value.code == "invalid_state_transition"
        with pytest.raises(openai.NotFoundError):
            client.fine_tuning.jobs.retrieve("ftjob_" + "0" * 32)
    finally:
        worker.close()
        client.close()


async def test_openai_client_follows_a_real_training_run(training_dev_server: DevServer) -> None:
    """As `make run` starts it: the job trains on the reference trainer, no test plays it."""
    base_url = training_dev_server.base_url
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
        ada = await sign_up(http)
        train = await validated_dataset(http, ada.headers)
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=ada.access_token,
                           max_retries=0, timeout=10.0)
    try:
        job = client.fine_tuning.jobs.create(
            model="reference-byte-lm", training_file=train, suffix="real",
            method={"type": "supervised",
                    "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 2}}})
        assert eventually(lambda: client.fine_tuning.jobs.retrieve(job.id).status in (
            "succeeded", "failed", "cancelled"))
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded", done.error
        assert done.fine_tuned_model == f"ft:reference-byte-lm:real:{job.id[6:18]}"
        assert done.trained_tokens and len(done.result_files) == 2

        events = list(client.fine_tuning.jobs.list_events(job.id, limit=5))  # pages through
        losses = [e.data["train_loss"] for e in reversed(events) if e.type == "metrics"]
        assert len(losses) == 10 and losses[-1] < losses[0]
        checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id)
        assert checkpoints.data[0].step_number == 10
        assert checkpoints.data[0].metrics.train_loss == losses[-1]
        def registered() -> Any:  # the scheduler registers the model just after the success
            try:
                return client.models.retrieve(str(done.fine_tuned_model))
            except openai.NotFoundError:
                return None

        model = eventually(registered)
        assert model is not None and model.id.startswith("model_")
    finally:
        client.close()
