"""Organization: the tenant. Every user has a personal one, opened once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.cause import Cause
from domain.shared.errors import PermissionDeniedError, ValidationFailedError
from domain.shared.text import checked_metadata, checked_name
from domain.tenancy.ids import personal_organization_id
from domain.tenancy.lifecycle import ALLOWED_ACTIONS, Lifecycle, require_action


class Organization(Aggregate):
    """A tenant: owns projects and everything below them."""

    TOPIC = "bitstride.tenancy.Organization"

    @staticmethod
    def create_id(owner_user_id: UUID, **_: Any) -> UUID:
        return personal_organization_id(owner_user_id)

    @event("Created", topic="bitstride.tenancy.Organization.Created")
    def __init__(self, owner_user_id: UUID, name: str, cause: Cause) -> None:
        self.owner_user_id = owner_user_id
        self.name = name
        self.settings: dict[str, str] = {}
        self.state = Lifecycle.ACTIVE
        self.last_cause = cause

    @classmethod
    def open_personal(cls, owner_user_id: UUID, name: str, cause: Cause) -> Organization:
        return cls(owner_user_id=owner_user_id, name=checked_name(name), cause=cause)

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return ALLOWED_ACTIONS[self.state]

    def update(self, *, name: str | None, settings: dict[str, str] | None, cause: Cause) -> None:
        require_action(self.state, "update")
        new_name = self.name if name is None else checked_name(name)
        new_settings = self.settings if settings is None else checked_metadata(
            settings, param="settings")
        if (new_name, new_settings) != (self.name, self.settings):
            self._updated(name=new_name, settings=new_settings, cause=cause)

    @event("Updated", topic="bitstride.tenancy.Organization.Updated")
    def _updated(self, name: str, settings: dict[str, str], cause: Cause) -> None:
        self.name, self.settings, self.last_cause = name, dict(settings), cause

    def delete(self, *, actor_user_id: UUID | None, confirm_name: str, cause: Cause) -> None:
        """Only the owner, acting as a user (never an API key), naming the org to confirm."""
        require_action(self.state, "delete")
        if actor_user_id != self.owner_user_id:
            raise PermissionDeniedError("Only the organization's owner may delete it.")
        if confirm_name != self.name:
            raise ValidationFailedError(
                "Confirm deletion by passing the organization's exact name as 'confirm'.",
                param="confirm")
        self._deleted(cause=cause)

    class Deleted(Aggregate.Event):
        """The organization was deleted; process managers end its sessions and projects."""

        TOPIC = "bitstride.tenancy.Organization.Deleted"
        cause: Cause

    @event(Deleted)
    def _deleted(self, cause: Cause) -> None:
        self.state, self.last_cause = Lifecycle.DELETED, cause
