"""What the training context needs from other contexts and from training backends.

Adapters raise NotFoundError when the object does not exist in the org; the service turns
that into a 400 naming the request field ("training_file", "validation_file", "model").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.usage.service import NewUsage
from domain.shared.cause import Cause


@dataclass(frozen=True)
class PinnedDataset:
    """A dataset's current version as it stood when asked: what a new job pins.

    `purpose` is "fine_tuning" or "rl"; `format` "chat", "preference" or "prompt"; `status`
    is the dataset's status ("valid" means the pinned version passed validation); `examples`
    counts its examples (what "auto" hyperparameters depend on).
    """

    id: UUID
    version: int
    purpose: str
    format: str
    status: str
    examples: int


@dataclass(frozen=True)
class TrainableModel:
    """A base or organization model. `capabilities` names the training methods it accepts:
    "supervised", "dpo", "rl". `base_model_id` and `base_name` name the base model at the
    root of its lineage (itself for a base model); `weights_uri` is None for a base model."""

    id: str
    name: str
    capabilities: frozenset[str]
    base_model_id: str = ""
    base_name: str = ""
    weights_uri: str | None = None


class DatasetCatalog(Protocol):
    def pinned(self, org_id: UUID, dataset_id: UUID) -> PinnedDataset:
        """The dataset's current version; NotFoundError if the org has no such dataset."""
        ...


class ModelCatalog(Protocol):
    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        """The model by id or name; NotFoundError if the org cannot see it."""
        ...


@dataclass(frozen=True)
class OutputModel:
    """What a succeeded job produced, to register as the organization's model."""

    org_id: UUID
    name: str
    base_model_id: str
    weights_uri: str
    job_id: str
    dataset_versions: tuple[tuple[UUID, int], ...]


class OutputModels(Protocol):
    def register(self, output: OutputModel, *, cause: Cause) -> None:
        """Register the model; registering the same job's model again is a no-op."""
        ...


class UsageLedger(Protocol):
    def record(self, usage: Sequence[NewUsage], *, cause: Cause) -> int | None:
        """Record usage once per source and meter (a repeat records nothing)."""
        ...


@dataclass(frozen=True)
class ExecutorJob:
    """What an executor needs to run a job: its pinned files, model and concrete values.

    `training_file` and `validation_file` are (dataset id, version); `method` is
    "supervised", "dpo" or "rl"; `spec` is the job's whole spec (the RL grader and sampling);
    `hyperparameters` are the resolved numbers; `total_steps` is what the scheduler records at
    start (examples x epochs / batch size); `output_model` is the name the trained model
    gets; `base_name` and `weights_uri` describe the model trained from.
    """

    job_id: UUID
    org_id: UUID
    kind: str
    method: str
    model: str
    base_name: str
    weights_uri: str | None
    training_file: tuple[UUID, int]
    validation_file: tuple[UUID, int] | None
    spec: Mapping[str, Any]
    hyperparameters: dict[str, int | float]
    seed: int
    total_steps: int
    output_model: str


class Executor(Protocol):
    """A training backend: local processes here, a GPU cluster elsewhere.

    Every call is idempotent by job id: a scheduler repeating one after a crash must not
    start a second run or fail on a stopped one. Runs report through the TrainingService's
    executor commands with increasing `seq`, so a report delivered twice is harmless.
    """

    def start(self, job: ExecutorJob) -> str:
        """Begin running `job` (or find it already running); returns its executor id."""
        ...

    def attach(self, job: ExecutorJob) -> bool:
        """Follow a run started before this process did (a worker restart): True when the
        run is still there, or finished and its outcome can still be reported."""
        ...

    def heartbeat(self, job_id: UUID) -> float | None:
        """Seconds since the run last showed life; None when this executor has no such run."""
        ...

    def stop(self, job_id: UUID) -> None:
        """Ask the run to stop; it acknowledges the cancel through the service."""
        ...


class ExecutorRefusedError(Exception):
    """The executor cannot run this job at all (say, a model it cannot train): the job
    fails with `code` and `message` instead of starting."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message
