"""Unique model names: one claim aggregate per (scope, name), saved with the model."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.errors import NameTakenError
from domain.shared.ids import derived_id

BASE_SCOPE = "base"


def name_scope(org_id: UUID | None) -> str:
    """Base names are unique platform-wide; an organization's names within it."""
    return BASE_SCOPE if org_id is None else org_id.hex


class ModelNameClaim(Aggregate):
    """Holds a model name within its scope.

    Saving it in the same transaction as the model makes two concurrent registrations of one
    name collide on the claim's version, so exactly one of them wins. Names compare without
    case, as the gateway resolves them.
    """

    TOPIC = "bitstride.catalog.ModelNameClaim"

    @staticmethod
    def claim_id(scope: str, name: str) -> UUID:
        return derived_id("model-name", scope, name.casefold())

    @staticmethod
    def create_id(scope: str, name: str, **_: Any) -> UUID:
        return ModelNameClaim.claim_id(scope, name)

    @event("Created", topic="bitstride.catalog.ModelNameClaim.Created")
    def __init__(self, scope: str, name: str, holder: UUID) -> None:
        self.scope, self.name = scope, name
        self.holder: UUID | None = holder

    def claim(self, holder: UUID) -> None:
        if self.holder == holder:
            return
        if self.holder is not None:
            raise NameTakenError(f"A model named {self.name!r} already exists.", param="name")
        self._reclaimed(holder=holder)

    @event("Reclaimed", topic="bitstride.catalog.ModelNameClaim.Reclaimed")
    def _reclaimed(self, holder: UUID) -> None:
        self.holder = holder

    def release(self, holder: UUID) -> None:
        if self.holder == holder:
            self._released()

    @event("Released", topic="bitstride.catalog.ModelNameClaim.Released")
    def _released(self) -> None:
        self.holder = None
