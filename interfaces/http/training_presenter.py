"""Job, event and checkpoint objects for the API.

A job is presented from its read-model row; after a write, the aggregate is first turned into
the same row shape (`row_of`), so both paths share one presenter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.training.job import TrainingJob as JobAggregate
from domain.training.status import JobStatus, allowed_actions
from interfaces.http.schemas import ModelDatasetVersion
from interfaces.http.training_schemas import (
    JobCheckpoint,
    JobError,
    JobEvent,
    JobProgress,
    TrainingJob,
)

EVENT_PREFIX, CHECKPOINT_PREFIX = "ftevent", "ftckpt"


@dataclass(frozen=True)
class JobKind:
    """What differs between the fine-tuning and the RL routes."""

    kind: str  # the aggregate's kind: "fine_tuning" or "rl"
    prefix: str  # public id prefix
    object: str  # the job object's `object`


FINE_TUNING = JobKind("fine_tuning", "ftjob", "fine_tuning.job")
RL = JobKind("rl", "rljob", "rl.job")


def _unix(value: float | None) -> int | None:
    return None if value is None else int(value)


def row_of(job: JobAggregate) -> dict[str, Any]:
    """The aggregate as the projection would write its row."""
    return {
        "id": job.id.hex, "org_id": job.org_id.hex,
        "project_id": job.project_id.hex if job.project_id else None, "kind": job.kind,
        "model": job.model, "status": job.status.value, "spec": job.spec.to_dict(),
        "hyperparameters": dict(job.hyperparameters), "metadata": dict(job.metadata),
        "error": job.error, "fine_tuned_model": job.fine_tuned_model,
        "trained_tokens": job.trained_tokens, "seed": job.seed,
        "result_files": list(job.result_files), "step": job.step,
        "total_steps": job.total_steps, "created_at": int(job.created_at),
        "started_at": _unix(job.started_at), "finished_at": _unix(job.finished_at),
        "version": job.version}


def _file(pinned: dict[str, Any] | None) -> str | None:
    return f"ds_{pinned['dataset_id']}" if pinned else None


def _method(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == FINE_TUNING.kind:
        return {"type": spec["method"],
                spec["method"]: {"hyperparameters": spec["hyperparameters"]}}
    return {"type": "rl", "rl": {
        "hyperparameters": spec["hyperparameters"], "grader": spec["grader"],
        "rollouts_per_prompt": spec["rollouts_per_prompt"], "kl_beta": spec["kl_beta"],
        "sampling": spec["sampling"]}}


def job_from_row(kind: JobKind, row: dict[str, Any]) -> TrainingJob:
    spec = row["spec"]
    pinned = [spec["training_file"], *([spec["validation_file"]]
                                       if spec.get("validation_file") else [])]
    error = row["error"]
    return TrainingJob(
        id=f"{kind.prefix}_{row['id']}", object=kind.object, created_at=row["created_at"],
        model=row["model"], status=row["status"], training_file=f"ds_{pinned[0]['dataset_id']}",
        validation_file=_file(spec.get("validation_file")),
        hyperparameters=row["hyperparameters"], method=_method(row["kind"], spec),
        fine_tuned_model=row["fine_tuned_model"], trained_tokens=row["trained_tokens"],
        result_files=list(row["result_files"]), seed=row["seed"],
        error=JobError(code=error.get("code"), message=error.get("message"),
                       param=error.get("param")) if error else None,
        finished_at=row["finished_at"], estimated_finish=None,
        organization_id=f"org_{row['org_id']}", metadata=row["metadata"],
        user_provided_suffix=spec.get("suffix"), integrations=[],
        allowed_actions=list(allowed_actions(JobStatus(row["status"]))),
        version=row["version"], started_at=row["started_at"],
        project_id=f"proj_{row['project_id']}" if row["project_id"] else None,
        progress=JobProgress(step=row["step"], total_steps=row["total_steps"]),
        dataset_versions=[ModelDatasetVersion(dataset_id=f"ds_{ref['dataset_id']}",
                                              version=ref["version"]) for ref in pinned])


@functools.cache
def presenter_of(kind: JobKind) -> Callable[[dict[str, Any]], TrainingJob]:
    """`job_from_row` for one kind, the same object on every call (list pages key on it)."""
    return functools.partial(job_from_row, kind)


def event_from_row(kind: JobKind, row: dict[str, Any]) -> JobEvent:
    return JobEvent(id=f"{EVENT_PREFIX}_{row['seq']}", object=f"{kind.object}.event",
                    created_at=row["created_at"], level=row["level"], message=row["message"],
                    type=row["type"], data=row["data"])


def checkpoint_from_row(kind: JobKind, row: dict[str, Any]) -> JobCheckpoint:
    job_id = f"{kind.prefix}_{row['job_id']}"
    return JobCheckpoint(
        id=f"{CHECKPOINT_PREFIX}_{row['seq']}", object=f"{kind.object}.checkpoint",
        created_at=row["created_at"],
        fine_tuned_model_checkpoint=f"{job_id}:ckpt-step-{row['step']}",
        step_number=row["step"], metrics={"step": row["step"], **row["metrics"]},
        fine_tuning_job_id=job_id, file_key=row["file_key"])
