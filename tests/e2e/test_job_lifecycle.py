"""A fine-tuning job through HTTP with the scheduler and the inline executor running: it is
validated, queued, started, reports progress and succeeds with no test playing the worker.

(The inline executor trains nothing; it counts the file's examples and tokens. See
infra/executors/inline.py.)"""

from __future__ import annotations

import anyio.to_thread
import pytest

from infra.settings import Settings
from tests.e2e.conftest import in_process, sign_up
from tests.support.training import BASE, dataset, settle
from tests.support.waiting import terminal

pytestmark = pytest.mark.anyio
JOBS = "/v1/fine_tuning/jobs"


async def test_a_job_runs_to_success_on_the_inline_executor(backend_settings: Settings) -> None:
    settings = backend_settings.with_overrides(training_executor="dry-run",
                                               training_capacity=1)
    async with in_process(settings) as (plane, client):
        ada = await sign_up(client)
        train = await dataset(client, plane, ada)
        response = await client.post(JOBS, headers=ada.headers, json={
            "model": BASE, "training_file": train,
            "method": {"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 1}}}})
        assert response.status_code == 200, response.text
        job_id = response.json()["id"]
        job = await anyio.to_thread.run_sync(lambda: terminal(plane, job_id))
        assert job.status.value == "succeeded", job.error
        await settle(plane)

        done = (await client.get(f"{JOBS}/{job_id}", headers=ada.headers)).json()
        assert done["status"] == "succeeded" and done["allowed_actions"] == []
        assert isinstance(done["trained_tokens"], int) and done["trained_tokens"] > 0
        assert done["fine_tuned_model"] == f"ft:smollm2-135m-instruct:{job_id[6:18]}"
        progress = done["progress"]
        assert progress["total_steps"] >= 1 and progress["step"] == progress["total_steps"]

        events = (await client.get(f"{JOBS}/{job_id}/events", headers=ada.headers,
                                   params={"limit": 100})).json()["data"]
        oldest_first = list(reversed(events))
        assert oldest_first[0]["message"].startswith("Created fine-tuning job")
        assert oldest_first[-1]["message"] == "The job has successfully completed"
        steps = [event["data"]["step"] for event in oldest_first if event["type"] == "metrics"]
        assert steps and steps == sorted(set(steps)) and steps[-1] == progress["total_steps"]
        seen = [event["data"]["tokens_seen"] for event in oldest_first
                if event["type"] == "metrics"]
        assert seen == sorted(seen) and seen[-1] == done["trained_tokens"]
        assert len(oldest_first) == 3 + len(steps) + 1  # created, validated, started, ..., done
