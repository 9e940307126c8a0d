"""Unique names: one claim aggregate per (organization, name), saved with the project."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.errors import NameTakenError
from domain.shared.ids import derived_id


class ProjectNameClaim(Aggregate):
    """Holds a project name within an organization.

    Saving it in the same transaction as the project makes two concurrent creates of one name
    collide on the claim's version, so exactly one of them wins.
    """

    TOPIC = "bitstride.tenancy.ProjectNameClaim"

    @staticmethod
    def claim_id(org_id: UUID, name: str) -> UUID:
        return derived_id("project-name", str(org_id), name.casefold())

    @staticmethod
    def create_id(org_id: UUID, name: str, **_: Any) -> UUID:
        return ProjectNameClaim.claim_id(org_id, name)

    @event("Created", topic="bitstride.tenancy.ProjectNameClaim.Created")
    def __init__(self, org_id: UUID, name: str, holder: UUID) -> None:
        self.org_id, self.name = org_id, name
        self.holder: UUID | None = holder

    def claim(self, holder: UUID) -> None:
        if self.holder == holder:
            return
        if self.holder is not None:
            raise NameTakenError(f"A project named {self.name!r} already exists.", param="name")
        self._reclaimed(holder=holder)

    @event("Reclaimed", topic="bitstride.tenancy.ProjectNameClaim.Reclaimed")
    def _reclaimed(self, holder: UUID) -> None:
        self.holder = holder

    def release(self, holder: UUID) -> None:
        if self.holder == holder:
            self._released()

    @event("Released", topic="bitstride.tenancy.ProjectNameClaim.Released")
    def _released(self) -> None:
        self.holder = None
