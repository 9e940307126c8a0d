"""What the models context needs from others: who uses a model, and the base catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


class ModelUsage(Protocol):
    """Who still depends on a model: deployments serving it, unfinished jobs training from it.

    Returns public ids (`dep_...`, `ftjob_...`), so the 409 can name them. The jobs and
    deployments contexts provide real adapters; until they exist nothing uses a model.
    """

    def users_of(self, model_id: UUID) -> list[str]: ...


class NoModelUsage:
    """The default adapter: no context uses models yet."""

    def users_of(self, model_id: UUID) -> list[str]:
        return []


@dataclass(frozen=True)
class BaseModelSpec:
    """One entry of the base-model catalog file."""

    name: str
    context_length: int
    tokenizer: str
    training: tuple[str, ...]
    serving: bool
    description: str = ""
