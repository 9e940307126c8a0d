"""Deployments served for real: the worker's controller runs reference-server replicas.

A model is trained by the reference trainer, deployed with the reference backend, and its
replica answers the official `openai` client (through the replica's own URL: the gateway
comes next). A replica killed with SIGKILL is replaced; a stop bills the replicas' seconds.
"""

from __future__ import annotations

import signal
import time

import anyio.to_thread
import openai
import pytest

from domain.serving.status import DeploymentStatus
from infra.processes import ProcessDir
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import in_process, sign_up
from tests.e2e.test_reference_training import REFERENCE, scheduler_done, usage_of
from tests.support.training import dataset
from tests.support.usage import usage_records
from tests.support.waiting import deployment_when, terminal

pytestmark = pytest.mark.anyio
DEADLINE_SECONDS = 60.0


def served(settings: Settings) -> Settings:
    return settings.with_overrides(training_executor="local", deployment_controller=True)


async def test_a_trained_model_is_deployed_answers_restarts_and_bills(
        backend_settings: Settings) -> None:
    async with in_process(served(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        train = await dataset(client, plane, ada)
        job = (await client.post("/v1/fine_tuning/jobs", headers=ada.headers, json={
            "model": REFERENCE, "training_file": train,
            "method": {"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 2}}}}
        )).json()
        trained = await anyio.to_thread.run_sync(lambda: terminal(plane, job["id"]))
        assert trained.status.value == "succeeded", trained.error
        await anyio.to_thread.run_sync(lambda: scheduler_done(plane))

        response = await client.post("/v1/deployments", headers=ada.headers, json={
            "model": trained.fine_tuned_model, "backend": "reference", "min_replicas": 2})
        assert response.status_code == 201, response.text
        dep_id = response.json()["id"]
        ready = await anyio.to_thread.run_sync(lambda: deployment_when(
            plane, dep_id, lambda d: d.status is DeploymentStatus.READY))
        assert len(ready.ready_replicas) == 2

        first_id, url = next(iter(ready.ready_replicas.items()))
        replica = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        answer = replica.chat.completions.create(
            model=str(trained.fine_tuned_model), max_tokens=8, temperature=0,
            messages=[{"role": "user", "content": "Hi"}])
        assert answer.usage is not None and answer.usage.completion_tokens >= 1
        assert [m.id for m in replica.models.list()] == [trained.fine_tuned_model]
        replica.close()

        # SIGKILL one replica: it is recorded failed and replaced, and the deployment is
        # ready again with two replicas.
        ProcessDir(plane.settings.serving_replicas_dir / first_id).signal(signal.SIGKILL)
        again = await anyio.to_thread.run_sync(lambda: deployment_when(
            plane, dep_id, lambda d: d.replicas[first_id].failed_at is not None
            and d.status is DeploymentStatus.READY))
        assert len(again.ready_replicas) == 2 and first_id not in again.ready_replicas

        stop = await client.put(f"/v1/deployments/{dep_id}", headers=ada.headers,
                                json={"desired_state": "stopped"})
        assert stop.status_code == 200, stop.text
        stopped = await anyio.to_thread.run_sync(lambda: deployment_when(
            plane, dep_id, lambda d: d.status is DeploymentStatus.STOPPED))
        assert not stopped.live_replicas
        billed = await anyio.to_thread.run_sync(lambda: replica_seconds(plane, dep_id))
        assert len(billed) == 3 and all(seconds >= 1 for seconds in billed.values())


def replica_seconds(plane: ControlPlane, dep_id: str) -> dict[str, int]:
    """Usage per replica, once the controller has billed all three."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        billed = {record.source_id: record.quantity for record in usage_records(plane)
                  if record.source_id.startswith(dep_id)}
        if len(billed) >= 3 or time.monotonic() > deadline:
            return billed
        time.sleep(0.1)


async def test_a_model_the_reference_backend_cannot_serve_fails_the_deployment(
        backend_settings: Settings) -> None:
    async with in_process(served(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        response = await client.post("/v1/deployments", headers=ada.headers, json={
            "model": "smollm2-135m-instruct", "backend": "reference"})
        dep_id = response.json()["id"]
        failed = await anyio.to_thread.run_sync(lambda: deployment_when(
            plane, dep_id, lambda d: d.status is DeploymentStatus.FAILED))
        assert failed.error is not None and failed.error["code"] == "unsupported_model"
        assert usage_of(plane, dep_id) == {}
