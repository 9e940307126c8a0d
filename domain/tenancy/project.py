"""Project: a named workspace inside an organization."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError
from domain.shared.ids import derived_id
from domain.shared.text import checked_metadata, checked_name, checked_text, revised
from domain.tenancy.lifecycle import ALLOWED_ACTIONS, Lifecycle, require_action

MAX_DESCRIPTION_LENGTH = 2000


class Project(Aggregate):
    """A project; its name is unique within its organization (see ProjectNameClaim)."""

    TOPIC = "bitstride.tenancy.Project"

    @staticmethod
    def create_id(org_id: UUID, idempotency_key: str | None = None, **_: Any) -> UUID:
        """A keyed create always lands on the same id, so a retry cannot make a second project."""
        if idempotency_key is None:
            return uuid4()
        return derived_id("project", str(org_id), idempotency_key)

    class Created(Aggregate.Created):
        """A project was created; process managers read `org_id` from it."""

        TOPIC = "bitstride.tenancy.Project.Created"
        org_id: UUID
        name: str
        description: str
        metadata: dict[str, str]
        request_fingerprint: str
        cause: Cause
        idempotency_key: str | None

    @event(Created)
    def __init__(self, *, org_id: UUID, name: str, description: str, metadata: dict[str, str],
                 request_fingerprint: str, cause: Cause,
                 idempotency_key: str | None = None) -> None:
        self.org_id = org_id
        self.name = name
        self.description = description
        self.metadata = dict(metadata)
        self.request_fingerprint = request_fingerprint
        self.idempotency_key = idempotency_key
        self.state = Lifecycle.ACTIVE
        self.last_cause = cause

    @classmethod
    def create(cls, *, org_id: UUID, name: str, description: str, metadata: dict[str, str],
               request_fingerprint: str, cause: Cause) -> Project:
        return cls(
            org_id=org_id,
            name=checked_name(name),
            description=checked_text(description, param="description",
                                     max_length=MAX_DESCRIPTION_LENGTH),
            metadata=checked_metadata(metadata),
            request_fingerprint=request_fingerprint,
            cause=cause,
            idempotency_key=cause.idempotency_key,
        )

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return ALLOWED_ACTIONS[self.state]

    def require_visible_to(self, org_id: UUID) -> None:
        """Another tenant's project, or a deleted one, does not exist for the caller."""
        if self.org_id != org_id or self.state is Lifecycle.DELETED:
            raise NotFoundError("No such project.")

    def update(self, *, name: str | None, description: str | None,
               metadata: dict[str, str] | None, cause: Cause) -> None:
        require_action(self.state, "update")
        new = revised((self.name, self.description, self.metadata), name=name,
                      description=description, metadata=metadata,
                      max_description=MAX_DESCRIPTION_LENGTH)
        if new is not None:
            self._updated(name=new[0], description=new[1], metadata=new[2], cause=cause)

    @event("Updated", topic="bitstride.tenancy.Project.Updated")
    def _updated(self, name: str, description: str, metadata: dict[str, str],
                 cause: Cause) -> None:
        self.name, self.description, self.metadata = name, description, dict(metadata)
        self.last_cause = cause

    def delete(self, *, cause: Cause) -> None:
        require_action(self.state, "delete")
        self._deleted(cause=cause)

    @event("Deleted", topic="bitstride.tenancy.Project.Deleted")
    def _deleted(self, cause: Cause) -> None:
        self.state, self.last_cause = Lifecycle.DELETED, cause
