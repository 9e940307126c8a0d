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
