"""Helpers for job tests through HTTP: validated datasets, and a job driven by the worker's
commands (the scheduler and executors do not exist yet, so tests play their part)."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
import httpx

from application.training.service import TrainingService
from domain.shared.cause import SYSTEM
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account
from tests.support.datasets import create_dataset, fixture_bytes, upload_raw, validated

GRADER: dict[str, Any] = {"type": "string_check", "name": "exact",
                          "input": "{{ sample.output_text }}", "reference": "{{ item.answer }}",
                          "operation": "eq"}
FIXTURE_OF = {("fine_tuning", "chat"): "valid_chat", ("fine_tuning", "preference"): "valid_dpo",
              ("rl", "prompt"): "valid_rl"}
BASE = "smollm2-135m-instruct"


async def dataset(client: httpx.AsyncClient, plane: ControlPlane, account: Account, *,
                  purpose: str = "fine_tuning", data_format: str = "chat",
                  validate: bool = True, **fields: Any) -> str:
    """A dataset with one uploaded version, validated (and valid) unless told otherwise."""
    created = await create_dataset(client, account, purpose=purpose, format=data_format,
                                   **fields)
    uploaded = await upload_raw(client, account, created["id"],
                                fixture_bytes(FIXTURE_OF[purpose, data_format]))
    assert uploaded.status_code == 201, uploaded.text
    if validate:
        assert (await validated(client, plane, account, created["id"]))["status"] == "valid"
    dataset_id: str = created["id"]
    return dataset_id


async def slow_dataset(client: httpx.AsyncClient, plane: ControlPlane, account: Account,
                       rows: int = 200) -> str:
    """A validated chat dataset whose long answers make each reference-trainer step take a
    noticeable time (~0.15 s at batch size 32), for tests that act while a run goes on."""
    words = ("alpha", "beta", "gamma", "delta", "omega")
    lines = [json.dumps({"messages": [
        {"role": "user", "content": f"Question {row}?"},
        {"role": "assistant", "content": " ".join(words[(row + i) % 5] for i in range(45))}]})
        for row in range(rows)]
    created = await create_dataset(client, account, purpose="fine_tuning", format="chat")
    uploaded = await upload_raw(client, account, created["id"],
                                ("\n".join(lines) + "\n").encode())
    assert uploaded.status_code == 201, uploaded.text
    assert (await validated(client, plane, account, created["id"]))["status"] == "valid"
    dataset_id: str = created["id"]
    return dataset_id


async def settle(plane: ControlPlane) -> None:
    """Until the training projection shows every job event so far."""
    await anyio.to_thread.run_sync(lambda: plane.await_projections(
        plane.training.name, plane.training.recorder.max_notification_id()))


def play_worker(training: TrainingService, job_id: str, *, succeed: bool = True) -> None:
    """The scheduler's and an executor's commands: queue, start, report (once duplicated),
    two checkpoints, then succeed unless told otherwise."""
    target = parse_id(job_id.partition("_")[0], job_id)
    job = training.files_validated(target, cause=SYSTEM).aggregate
    training.start(target, executor_id="test-executor", total_steps=4,
                         resolved_hyperparameters=job.hyperparameters, at=1_700_000_000.0,
                         cause=SYSTEM)
    training.report(target, seq=1, step=1, metrics={"train_loss": 2.5}, at=1.0,
                          cause=SYSTEM)
    training.checkpoint(target, seq=2, step=2, metrics={"train_loss": 1.5},
                              file_key=f"checkpoints/{target.hex}/2", at=2.0, cause=SYSTEM)
    training.report(target, seq=2, step=2, metrics={"train_loss": 9.0}, at=2.5,
                          cause=SYSTEM)  # a duplicate report: ignored
    training.checkpoint(target, seq=3, step=4, metrics={"train_loss": 0.5},
                              file_key=f"checkpoints/{target.hex}/4", at=3.0, cause=SYSTEM)
    if succeed:
        training.succeed(target, seq=4, fine_tuned_model="ft-test-model",
                               trained_tokens=1234, result_files=["results/metrics.csv"],
                               at=1_700_000_100.0, cause=SYSTEM)


async def drive(plane: ControlPlane, job_id: str, *, succeed: bool = True) -> None:
    """Play the scheduler and an executor: queue, start, report, two checkpoints, succeed."""
    await anyio.to_thread.run_sync(lambda: play_worker(plane.training, job_id, succeed=succeed))
    await settle(plane)
