"""Tenancy process managers on the in-memory store: effects are idempotent, tracking comes last."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from application.tenancy.policies import OrganizationClosure, PersonalOrganizations
from application.tenancy.service import TenancyService
from domain.identity.user import User
from domain.shared.cause import SYSTEM, Cause
from domain.tenancy.ids import personal_organization_id
from domain.tenancy.lifecycle import Lifecycle
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project

CAUSE = Cause(actor_id="user_1")
ORG_CREATED = "bitstride.tenancy.Organization.Created"


class SimulatedCrashError(Exception):
    """The process died after the effect, before its tracking position was recorded."""


class CrashBeforeTracking(POPOTrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        raise SimulatedCrashError


class FakeIdentityGateway:
    def __init__(self) -> None:
        self.calls: list[UUID] = []

    def close_organization(self, org_id: UUID) -> None:
        self.calls.append(org_id)


class FakeProjectDirectory:
    """Answers as the read model does: hex ids of every project the org ever had."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}

    def add(self, org_id: UUID, project_id: UUID) -> None:
        self.ids.setdefault(org_id.hex, []).append(project_id.hex)

    def project_ids(self, org_id: str, *, as_of: Tracking) -> list[str]:
        self.as_of = as_of
        return list(self.ids.get(org_id, []))


@pytest.fixture
def tenancy() -> TenancyService:
    return TenancyService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def user_events(name: str = "Ada") -> tuple[User, list[object]]:
    user = User.register(user_id=uuid4(), email="ada@example.com", name=name,
                         password_hash="fake$hash", registered_at=1_800_000_000.0, cause=CAUSE)
    user.rehash_password("fake$other", CAUSE)
    return user, list(user.collect_events())


def topics(app: TenancyService) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(1, 10_000)]


def stored_event(app: TenancyService, position: int) -> object:
    notification = app.recorder.select_notifications(position, 1)[0]
    return app.mapper.to_domain_event(notification)


# -- PersonalOrganizations -----------------------------------------------------------------


def test_a_registered_user_gets_a_personal_organization(tenancy: TenancyService) -> None:
    user, events = user_events("Ada")
    assert isinstance(events[0], User.Created)
    recorder = POPOTrackingRecorder()
    PersonalOrganizations(tenancy, recorder).process_event(events[0], Tracking("Auth", 7))
    org = tenancy.organization(personal_organization_id(user.id))
    assert (org.owner_user_id, org.name, org.state) == (user.id, "Ada's organization",
                                                        Lifecycle.ACTIVE)
    assert org.last_cause.actor_id == f"user_{user.id.hex}"
    assert recorder.max_tracking_id("Auth") == 7


def test_a_long_user_name_still_gives_a_valid_organization_name(
        tenancy: TenancyService) -> None:
    user, events = user_events("N" * 100)
    PersonalOrganizations(tenancy, POPOTrackingRecorder()).process_event(
        events[0], Tracking("Auth", 1))
    assert len(tenancy.organization(personal_organization_id(user.id)).name) <= 100


def test_other_user_events_are_only_tracked(tenancy: TenancyService) -> None:
    _, events = user_events()
    recorder = POPOTrackingRecorder()
    PersonalOrganizations(tenancy, recorder).process_event(events[1], Tracking("Auth", 2))
    assert recorder.max_tracking_id("Auth") == 2
    assert topics(tenancy) == []


def test_a_crash_before_tracking_does_not_open_a_second_organization(
        tenancy: TenancyService) -> None:
    user, events = user_events()
    with pytest.raises(SimulatedCrashError):
        PersonalOrganizations(tenancy, CrashBeforeTracking()).process_event(
            events[0], Tracking("Auth", 1))
    assert topics(tenancy) == [ORG_CREATED]  # the effect happened, the position did not

    recorder = POPOTrackingRecorder()
    PersonalOrganizations(tenancy, recorder).process_event(events[0], Tracking("Auth", 1))
    assert topics(tenancy) == [ORG_CREATED]
    assert tenancy.organization(personal_organization_id(user.id)).version == 1
    assert recorder.max_tracking_id("Auth") == 1


def test_a_tracked_event_is_refused_a_second_time(tenancy: TenancyService) -> None:
    _, events = user_events()
    recorder = POPOTrackingRecorder()
    policy = PersonalOrganizations(tenancy, recorder)
    policy.process_event(events[0], Tracking("Auth", 1))
    with pytest.raises(IntegrityError):
        policy.process_event(events[0], Tracking("Auth", 1))
    assert topics(tenancy) == [ORG_CREATED]


# -- OrganizationClosure -------------------------------------------------------------------


class ClosureWorld:
    """An organization with three projects (one already deleted), then deleted itself."""

    def __init__(self, tenancy: TenancyService) -> None:
        self.tenancy = tenancy
        self.owner = uuid4()
        self.org_id = tenancy.open_personal_organization(self.owner, "Acme", CAUSE).aggregate.id
        self.directory = FakeProjectDirectory()
        self.project_ids = []
        for name in ("Alpha", "Beta", "Gamma"):
            project = tenancy.create_project(self.org_id, name=name, description="",
                                             metadata={}, request_fingerprint=name,
                                             cause=CAUSE).aggregate
            self.directory.add(self.org_id, project.id)
            self.project_ids.append(project.id)
        tenancy.delete_project(self.org_id, self.project_ids[0], expected_version=None,
                               cause=CAUSE)
        # The read model may also list a project it saw whose events this store lacks.
        self.directory.add(self.org_id, uuid4())
        position = tenancy.delete_organization(self.org_id, actor_user_id=self.owner,
                                               confirm="Acme", expected_version=None,
                                               cause=CAUSE).position
        assert position is not None
        self.deleted_event = stored_event(tenancy, position)
        self.tracking = Tracking(tenancy.name, position)
        assert isinstance(self.deleted_event, Organization.Deleted)

    def project(self, project_id: UUID) -> Project:
        project = self.tenancy.repository.get(project_id)
        assert isinstance(project, Project)
        return project


def test_closure_ends_sessions_and_deletes_every_project(tenancy: TenancyService) -> None:
    world = ClosureWorld(tenancy)
    gateway, recorder = FakeIdentityGateway(), POPOTrackingRecorder()
    closure = OrganizationClosure(tenancy, gateway, world.directory, recorder)
    closure.process_event(world.deleted_event, world.tracking)
    assert gateway.calls == [world.org_id]
    for project_id in world.project_ids:
        assert world.project(project_id).state is Lifecycle.DELETED
    already, *closed = world.project_ids
    assert world.project(already).version == 2  # not deleted twice
    assert all(world.project(pid).last_cause == SYSTEM for pid in closed)
    assert recorder.max_tracking_id(tenancy.name) == world.tracking.notification_id


def test_closure_repeated_after_a_crash_changes_nothing_more(tenancy: TenancyService) -> None:
    world = ClosureWorld(tenancy)
    gateway = FakeIdentityGateway()
    with pytest.raises(SimulatedCrashError):
        OrganizationClosure(tenancy, gateway, world.directory, CrashBeforeTracking()) \
            .process_event(world.deleted_event, world.tracking)
    before = tenancy.recorder.max_notification_id()

    recorder = POPOTrackingRecorder()
    OrganizationClosure(tenancy, gateway, world.directory, recorder).process_event(
        world.deleted_event, world.tracking)
    assert gateway.calls == [world.org_id, world.org_id]  # closing twice is harmless
    assert tenancy.recorder.max_notification_id() == before
    assert recorder.max_tracking_id(tenancy.name) == world.tracking.notification_id


def test_closure_only_tracks_other_events(tenancy: TenancyService) -> None:
    owner = uuid4()
    outcome = tenancy.open_personal_organization(owner, "Acme", CAUSE)
    assert outcome.position is not None
    gateway, recorder = FakeIdentityGateway(), POPOTrackingRecorder()
    OrganizationClosure(tenancy, gateway, FakeProjectDirectory(), recorder).process_event(
        stored_event(tenancy, outcome.position), Tracking(tenancy.name, outcome.position))
    assert gateway.calls == []
    assert recorder.max_tracking_id(tenancy.name) == outcome.position
    assert tenancy.organization(outcome.aggregate.id).state is Lifecycle.ACTIVE


def test_closure_reads_the_directory_as_of_the_deletion(tenancy: TenancyService) -> None:
    world = ClosureWorld(tenancy)
    OrganizationClosure(tenancy, FakeIdentityGateway(), world.directory,
                        POPOTrackingRecorder()).process_event(world.deleted_event, world.tracking)
    assert world.directory.as_of == world.tracking


def test_a_project_created_in_a_deleted_organization_is_deleted(tenancy: TenancyService) -> None:
    """The creation raced the deletion: checked the org before it, committed after it."""
    owner = uuid4()
    org_id = tenancy.open_personal_organization(owner, "Acme", CAUSE).aggregate.id
    created = tenancy.create_project(org_id, name="Racer", description="", metadata={},
                                     request_fingerprint="r", cause=CAUSE)
    assert created.position is not None
    tenancy.delete_organization(org_id, actor_user_id=owner, confirm="Acme",
                                expected_version=None, cause=CAUSE)
    position = created.position - 1  # the project's event; the name claim's came last
    event = stored_event(tenancy, position)
    assert isinstance(event, Project.Created)
    recorder = POPOTrackingRecorder()
    OrganizationClosure(tenancy, FakeIdentityGateway(), FakeProjectDirectory(), recorder) \
        .process_event(event, Tracking(tenancy.name, position))
    project = tenancy.repository.get(created.aggregate.id)
    assert isinstance(project, Project)
    assert project.state is Lifecycle.DELETED
    assert recorder.max_tracking_id(tenancy.name) == position


class CountingTenancy(TenancyService):
    """The real service, counting the organization loads the closure asks for."""

    loads = 0

    def organization_is_deleted(self, org_id: UUID) -> bool:
        self.loads += 1
        return super().organization_is_deleted(org_id)


def created_event(tenancy: TenancyService, org_id: UUID, name: str) -> tuple[object, int]:
    outcome = tenancy.create_project(org_id, name=name, description="", metadata={},
                                     request_fingerprint=name, cause=CAUSE)
    assert outcome.position is not None
    position = outcome.position - 1  # the project's event; the name claim's came last
    event = stored_event(tenancy, position)
    assert isinstance(event, Project.Created)
    return event, position


def test_an_org_found_alive_is_not_loaded_again_until_its_deletion_is_seen() -> None:
    """Two projects read while the org lives, then its deletion, then a project whose commit
    raced the deletion (its event fed after the deletion's, as the log would order them)."""
    tenancy = CountingTenancy(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    owner = uuid4()
    org_id = tenancy.open_personal_organization(owner, "Acme", CAUSE).aggregate.id
    first, second, (racer, _) = (created_event(tenancy, org_id, name)
                                 for name in ("Alpha", "Beta", "Racer"))
    closure = OrganizationClosure(tenancy, FakeIdentityGateway(), FakeProjectDirectory(),
                                  POPOTrackingRecorder())
    for event, position in (first, second):
        closure.process_event(event, Tracking(tenancy.name, position))
    assert tenancy.loads == 1
    deleted = tenancy.delete_organization(org_id, actor_user_id=owner, confirm="Acme",
                                          expected_version=None, cause=CAUSE).position
    assert deleted is not None
    closure.process_event(stored_event(tenancy, deleted), Tracking(tenancy.name, deleted))
    closure.process_event(racer, Tracking(tenancy.name, deleted + 1))
    assert tenancy.loads == 2
    project = tenancy.repository.get(racer.originator_id)  # type: ignore[attr-defined]
    assert isinstance(project, Project)
    assert project.state is Lifecycle.DELETED


def test_the_oldest_remembered_org_is_forgotten_first(tenancy: TenancyService) -> None:
    closure = OrganizationClosure(tenancy, FakeIdentityGateway(), FakeProjectDirectory(),
                                  POPOTrackingRecorder())
    closure.ALIVE_REMEMBERED = 2
    orgs = [tenancy.open_personal_organization(uuid4(), f"Org {n}", CAUSE).aggregate.id
            for n in range(3)]
    for org_id in orgs:
        assert closure._known_alive(org_id)
    assert list(closure._alive) == orgs[1:]
