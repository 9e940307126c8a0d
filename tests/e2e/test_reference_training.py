"""Jobs trained for real: the worker's scheduler runs the reference trainer as subprocesses
through the local executor, over HTTP, on SQLite and Postgres.

What a succeeded job leaves is checked from the outside: a falling loss in its events,
checkpoint files in the object store, its model registered with lineage, and its usage.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.worker import TRAINING_SCHEDULER
from projections.tracking import SqlTrackingRecorder
from tests.e2e.conftest import in_process, sign_up
from tests.support.training import GRADER, dataset, settle, slow_dataset
from tests.support.usage import usage_records
from tests.support.waiting import at_step, terminal

pytestmark = pytest.mark.anyio
REFERENCE = "reference-byte-lm"
DEADLINE_SECONDS = 60.0


def scheduler_done(plane: ControlPlane) -> None:
    """Until the scheduler has acted on every job event so far (usage follows a job's
    success), and the models read model shows the models registered as jobs succeeded."""
    SqlTrackingRecorder(plane.read_engine, TRAINING_SCHEDULER).wait(
        plane.training.name, plane.training.recorder.max_notification_id(),
        timeout=DEADLINE_SECONDS)
    plane.await_projections(plane.models.name, plane.models.recorder.max_notification_id())


def usage_of(plane: ControlPlane, source_id: str) -> dict[str, int]:
    return {record.meter.value: record.quantity for record in usage_records(plane)
            if record.source_id == source_id}


def local(settings: Settings) -> Settings:
    return settings.with_overrides(training_executor="local", training_capacity=2)


async def test_a_supervised_job_trains_registers_its_model_and_bills_its_tokens(
        backend_settings: Settings) -> None:
    async with in_process(local(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        train = await dataset(client, plane, ada)
        response = await client.post("/v1/fine_tuning/jobs", headers=ada.headers, json={
            "model": REFERENCE, "training_file": train, "suffix": "terse", "seed": 7,
            "method": {"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 4, "batch_size": 2}}}})
        assert response.status_code == 200, response.text
        job_id = response.json()["id"]
        job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
        assert job.status.value == "succeeded", job.error
        await settle(plane)
        await anyio.to_thread.run_sync(lambda: scheduler_done(plane))

        done = (await client.get(f"/v1/fine_tuning/jobs/{job_id}", headers=ada.headers)).json()
        assert done["fine_tuned_model"] == f"ft:{REFERENCE}:terse:{job_id[6:18]}"
        assert done["progress"] == {"step": 20, "total_steps": 20}
        assert done["trained_tokens"] > 0 and len(done["result_files"]) == 2

        events = (await client.get(f"/v1/fine_tuning/jobs/{job_id}/events",
                                   headers=ada.headers, params={"limit": 100})).json()["data"]
        losses = [event["data"]["train_loss"] for event in reversed(events)
                  if event["type"] == "metrics"]
        assert len(losses) == 20 and losses[-1] < 0.8 * losses[0]

        checkpoints = (await client.get(f"/v1/fine_tuning/jobs/{job_id}/checkpoints",
                                        headers=ada.headers)).json()["data"]
        assert checkpoints and checkpoints[0]["step_number"] == 20
        for checkpoint in checkpoints:
            assert plane.object_store.exists(checkpoint["file_key"])
        for key in done["result_files"]:
            assert plane.object_store.exists(key)

        model = await client.get(f"/v1/models/{done['fine_tuned_model']}",
                                 headers=ada.headers)
        assert model.status_code == 200, model.text
        lineage: dict[str, Any] = model.json()["lineage"]
        assert lineage["job_id"] == job_id
        assert [ref["dataset_id"] for ref in lineage["dataset_versions"]] == [train]
        assert usage_of(plane, job_id) == {"fine_tuning.trained_tokens": done["trained_tokens"]}

        # The trained model trains further: its weights come back out of the object store.
        again = await client.post("/v1/fine_tuning/jobs", headers=ada.headers, json={
            "model": done["fine_tuned_model"], "training_file": train,
            "method": {"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 5}}}})
        assert again.status_code == 200, again.text
        second = await anyio.to_thread.run_sync(lambda: terminal(plane, again.json()["id"]))
        assert second.status.value == "succeeded", second.error
        assert second.fine_tuned_model is not None
        assert second.fine_tuned_model.startswith(f"ft:{REFERENCE}:")


async def test_an_rl_job_reports_rewards_and_bills_grader_calls(
        backend_settings: Settings) -> None:
    async with in_process(local(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        prompts = await dataset(client, plane, ada, purpose="rl", data_format="prompt")
        response = await client.post("/v1/rl/jobs", headers=ada.headers, json={
            "model": REFERENCE, "training_file": prompts, "grader": GRADER,
            "rollouts_per_prompt": 2, "sampling": {"max_tokens": 8},
            "hyperparameters": {"n_epochs": 1, "batch_size": 5}})
        assert response.status_code == 200, response.text
        job_id = response.json()["id"]
        job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
        assert job.status.value == "succeeded", job.error
        await settle(plane)
        await anyio.to_thread.run_sync(lambda: scheduler_done(plane))
        events = (await client.get(f"/v1/rl/jobs/{job_id}/events", headers=ada.headers,
                                   params={"limit": 100})).json()["data"]
        rewards = [event["data"]["mean_reward"] for event in events
                   if event["type"] == "metrics"]
        assert len(rewards) == 2 and all(0.0 <= reward <= 1.0 for reward in rewards)
        assert usage_of(plane, job_id) == {"rl.trained_tokens": job.trained_tokens,
                                           "rl.grader_calls": 10 * 2}


async def test_cancelling_a_running_job_stops_its_trainer(backend_settings: Settings) -> None:
    async with in_process(local(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        train = await slow_dataset(client, plane, ada)
        response = await client.post("/v1/fine_tuning/jobs", headers=ada.headers, json={
            "model": REFERENCE, "training_file": train,
            "method": {"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 10, "batch_size": 32}}}})
        job_id = response.json()["id"]
        await anyio.to_thread.run_sync(lambda: at_step(plane, job_id, 1))
        cancel = await client.post(f"/v1/fine_tuning/jobs/{job_id}/cancel", headers=ada.headers)
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["status"] == "cancelling"
        job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
        assert job.status.value == "cancelled" and job.step < job.total_steps
        await anyio.to_thread.run_sync(lambda: scheduler_done(plane))
        assert usage_of(plane, job_id) == {}


async def test_a_model_the_reference_trainer_cannot_train_fails_the_job(
        backend_settings: Settings) -> None:
    async with in_process(local(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        train = await dataset(client, plane, ada)
        response = await client.post("/v1/fine_tuning/jobs", headers=ada.headers, json={
            "model": "smollm2-135m-instruct", "training_file": train})
        job = await anyio.to_thread.run_sync(lambda: terminal(plane, response.json()["id"]))
        assert job.status.value == "failed"
        assert job.error is not None and job.error["code"] == "unsupported_model"
