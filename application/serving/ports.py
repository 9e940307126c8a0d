"""What the serving context needs from others: the models a deployment may serve.

The adapter raises NotFoundError when the organization cannot see the model; the service
turns that into a 400 naming the request field ("model").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class ServableModel:
    """A base or organization model: `id` is its public id (`model_…`), `serving` whether it
    can be served at all (the model's `capabilities.serving`)."""

    id: str
    name: str
    serving: bool


class ModelCatalog(Protocol):
    def servable(self, org_id: UUID, model: str) -> ServableModel:
        """The model by id or name; NotFoundError if the org cannot see it."""
        ...
