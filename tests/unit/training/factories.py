"""Jobs of both kinds in a known state, for the unit, property and integration tests."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain.shared.cause import SYSTEM
from domain.training.job import TrainingJob
from domain.training.specs import PinnedFile, Spec, fine_tuning_spec, rl_spec

GRADER: dict[str, Any] = {"type": "string_check", "name": "exact",
                          "input": "{{ sample.output_text }}", "reference": "{{ item.answer }}",
                          "operation": "eq"}


def ft_spec(method: str = "supervised", **hyperparameters: Any) -> Spec:
    return fine_tuning_spec(method=method, hyperparameters=hyperparameters,
                            training_file=PinnedFile(uuid4(), 1), validation_file=None,
                            suffix="demo", examples=40)


def rl_job_spec() -> Spec:
    return rl_spec(training_file=PinnedFile(uuid4(), 2), grader=GRADER, rollouts_per_prompt=4,
                   kl_beta=0.1, sampling={"temperature": 0.7}, hyperparameters=None,
                   examples=12)


def new_job(kind: str = "fine_tuning", org_id: UUID | None = None) -> TrainingJob:
    spec = ft_spec() if kind == "fine_tuning" else rl_job_spec()
    return TrainingJob.create(org_id=org_id or uuid4(), project_id=None, model="base-small",
                              spec=spec, seed=42, metadata={"team": "a"},
                              request_fingerprint="f", cause=SYSTEM)


def running_job(kind: str = "fine_tuning") -> TrainingJob:
    job = new_job(kind)
    job.files_validated(cause=SYSTEM)
    job.start(executor_id="local-1", total_steps=10,
              resolved_hyperparameters=job.spec.resolved_hyperparameters, at=100.0,
              cause=SYSTEM)
    return job


def replayed(events: list[Any]) -> TrainingJob:
    job = None
    for domain_event in events:
        job = domain_event.mutate(job)
    assert isinstance(job, TrainingJob)
    return job


def state(job: TrainingJob) -> dict[str, Any]:
    """Everything the job knows, for comparing a replayed job with the live one."""
    return {key: value for key, value in vars(job).items() if key != "_pending_events"}
