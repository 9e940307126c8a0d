"""What the training context needs from other contexts, as Protocols (adapters come later).

Adapters raise NotFoundError when the object does not exist in the org; the service turns
that into a 400 naming the request field ("training_file", "validation_file", "model").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


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
    "supervised", "dpo", "rl"."""

    id: str
    name: str
    capabilities: frozenset[str]


class DatasetCatalog(Protocol):
    def pinned(self, org_id: UUID, dataset_id: UUID) -> PinnedDataset:
        """The dataset's current version; NotFoundError if the org has no such dataset."""
        ...


class ModelCatalog(Protocol):
    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        """The model by id or name; NotFoundError if the org cannot see it."""
        ...


@dataclass(frozen=True)
class ExecutorJob:
    """What an executor needs to run a job: its pinned training file and concrete values.

    `training_file` is (dataset id, version); `hyperparameters` are the resolved numbers;
    `total_steps` is what the scheduler records at start (examples x epochs / batch size).
    """

    job_id: UUID
    org_id: UUID
    kind: str
    model: str
    training_file: tuple[UUID, int]
    hyperparameters: dict[str, int | float]
    seed: int
    total_steps: int


class Executor(Protocol):
    """A training backend. Both calls are idempotent by job id: a scheduler repeating one
    after a crash must not start a second run or fail on a stopped one."""

    def start(self, job: ExecutorJob) -> str:
        """Begin running `job` (or find it already running); returns its executor id.
        The executor reports through the TrainingService's executor commands."""
        ...

    def stop(self, job_id: UUID) -> None:
        """Ask the run to stop; it acknowledges the cancel through the service."""
        ...
