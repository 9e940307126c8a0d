"""Process managers of the tenancy context: they react to events, each exactly once.

Each records its tracking position only after its effect succeeded, and every effect is
idempotent, so a crash between the two repeats the effect harmlessly instead of losing it.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder

from application.tenancy.service import TenancyService
from domain.identity.user import User
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import InvalidStateTransitionError, NotFoundError
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project


class IdentityGateway(Protocol):
    """What the tenancy context asks of the auth service."""

    def close_organization(self, org_id: UUID) -> None: ...


class ProjectDirectory(Protocol):
    """Ids of an organization's projects, answered by the read model once it has applied the
    log up to `as_of` (so nothing created before the deletion is missed)."""

    def project_ids(self, org_id: str, *, as_of: Tracking) -> list[str]: ...


class PersonalOrganizations:
    """When a user registers with the auth service, open their personal organization."""

    def __init__(self, tenancy: TenancyService, recorder: TrackingRecorder) -> None:
        self.tenancy, self.recorder = tenancy, recorder

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, User.Created):
            cause = Cause(actor_id=f"user_{domain_event.originator_id.hex}", actor_kind="user")
            user_name: str = getattr(domain_event, "name", "")  # dynamic event class
            name = f"{user_name}'s organization"[:100] if user_name else "Personal organization"
            self.tenancy.open_personal_organization(domain_event.originator_id, name, cause)
        self.recorder.insert_tracking(tracking)


class OrganizationClosure:
    """When an organization is deleted, end its sessions and delete its projects.

    A project whose creation raced the deletion (checked before it, committed after it) is
    deleted when its own Created event arrives, so none survives its organization.

    Organizations found alive are remembered (up to `ALIVE_REMEMBERED`), so a busy org's
    projects cost no aggregate load each. That holds because the log is read in order: an
    org found alive can only die by a Deleted event committed after that reading, which comes
    later in the log than anything read so far, and is seen (and forgets the org) before any
    project created after it.
    """

    ALIVE_REMEMBERED = 10_000

    def __init__(self, tenancy: TenancyService, identity: IdentityGateway,
                 projects: ProjectDirectory, recorder: TrackingRecorder) -> None:
        self.tenancy, self.identity, self.projects = tenancy, identity, projects
        self.recorder = recorder
        self._alive: dict[UUID, None] = {}  # insertion-ordered: the oldest is forgotten first

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, Organization.Deleted):
            org_id: UUID = domain_event.originator_id
            self._alive.pop(org_id, None)
            self.identity.close_organization(org_id)
            for project_hex in self.projects.project_ids(org_id.hex, as_of=tracking):
                self._delete_project(org_id, UUID(hex=project_hex))
        elif isinstance(domain_event, Project.Created):
            org_id = domain_event.org_id
            if not self._known_alive(org_id):
                self._delete_project(org_id, domain_event.originator_id)
        self.recorder.insert_tracking(tracking)

    def _known_alive(self, org_id: UUID) -> bool:
        if org_id in self._alive:
            return True
        if self.tenancy.organization_is_deleted(org_id):
            return False
        if len(self._alive) >= self.ALIVE_REMEMBERED:
            del self._alive[next(iter(self._alive))]
        self._alive[org_id] = None
        return True

    def _delete_project(self, org_id: UUID, project_id: UUID) -> None:
        try:
            self.tenancy.delete_project(org_id, project_id, expected_version=None, cause=SYSTEM)
        except (NotFoundError, InvalidStateTransitionError):
            return  # already deleted: the effect holds
