"""TenancyService use cases, one abstract test class run on in-memory, SQLite and Postgres stores.

The concurrency tests start their threads together behind a barrier and check that every caller
gets either a result or a domain error (a 409/412/404), never a storage error, and that no
update is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from uuid import UUID, uuid4

import pytest

from application.tenancy.service import Outcome, TenancyService
from domain.shared.cause import Cause
from domain.shared.errors import (
    DomainError,
    IdempotencyKeyReusedError,
    InvalidStateTransitionError,
    NameTakenError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
    VersionMismatchError,
)
from domain.tenancy.ids import personal_organization_id
from domain.tenancy.lifecycle import Lifecycle
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore

T = TypeVar("T")

CAUSE = Cause(actor_id="user_1", request_id="req_1")
THREADS = 8


def keyed(key: str) -> Cause:
    return Cause(actor_id="user_1", request_id=f"req_{key}", idempotency_key=key)


def run_together(count: int, command: Callable[[int], T]) -> list[T | Exception]:
    """Run `command(i)` in `count` threads released at once; each result or raised error."""
    barrier = threading.Barrier(count)

    def call(index: int) -> T | Exception:
        barrier.wait()
        try:
            return command(index)
        except Exception as error:  # the caller classifies what each thread raised
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def topics(app: TenancyService) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(1, 10_000)]


class TenancyServiceContract:
    """The behaviour every event store must give TenancyService. Subclasses provide `env`."""

    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[TenancyService]:
        service = TenancyService(env=env)
        yield service
        service.close()

    @pytest.fixture
    def org_id(self, app: TenancyService) -> UUID:
        return app.open_personal_organization(uuid4(), "Acme", CAUSE).aggregate.id

    def create(self, app: TenancyService, org_id: UUID, name: str = "Alpha", *,
               fingerprint: str = "fp", cause: Cause = CAUSE) -> Outcome[Project]:
        return app.create_project(org_id, name=name, description="", metadata={},
                                  request_fingerprint=fingerprint, cause=cause)

    def rename(self, app: TenancyService, org_id: UUID, project_id: UUID,
               name: str) -> Outcome[Project]:
        return app.update_project(org_id, project_id, name=name, description=None,
                                  metadata=None, expected_version=None, cause=CAUSE)

    # -- organizations ---------------------------------------------------------------------

    def test_open_personal_organization_is_idempotent(self, app: TenancyService) -> None:
        owner = uuid4()
        first = app.open_personal_organization(owner, "Acme", CAUSE)
        assert first.aggregate.id == personal_organization_id(owner)
        assert not first.replayed
        assert first.position == app.recorder.max_notification_id()
        again = app.open_personal_organization(owner, "Another name", CAUSE)
        assert again.replayed
        assert again.position is None
        assert (again.aggregate.id, again.aggregate.name, again.aggregate.version) == (
            first.aggregate.id, "Acme", 1)
        assert topics(app) == ["bitstride.tenancy.Organization.Created"]

    def test_concurrent_opens_of_one_personal_organization_make_one(
            self, app: TenancyService) -> None:
        owner = uuid4()
        results = run_together(
            THREADS, lambda _: app.open_personal_organization(owner, "Acme", CAUSE))
        outcomes = [r for r in results if isinstance(r, Outcome)]
        assert len(outcomes) == THREADS, results
        assert sum(not outcome.replayed for outcome in outcomes) == 1
        assert {outcome.aggregate.id for outcome in outcomes} == {personal_organization_id(owner)}
        assert topics(app) == ["bitstride.tenancy.Organization.Created"]

    def test_update_and_delete_organization(self, app: TenancyService) -> None:
        owner = uuid4()
        org_id = app.open_personal_organization(owner, "Acme", CAUSE).aggregate.id
        updated = app.update_organization(org_id, name="Beta", settings={"a": "1"},
                                          expected_version=1, cause=CAUSE)
        assert updated.position == app.recorder.max_notification_id()
        assert (updated.aggregate.name, updated.aggregate.version) == ("Beta", 2)
        noop = app.update_organization(org_id, name="Beta", settings=None,
                                       expected_version=None, cause=CAUSE)
        assert (noop.position, noop.aggregate.version) == (None, 2)
        with pytest.raises(PermissionDeniedError):
            app.delete_organization(org_id, actor_user_id=uuid4(), confirm="Beta",
                                    expected_version=None, cause=CAUSE)
        with pytest.raises(ValidationFailedError) as info:
            app.delete_organization(org_id, actor_user_id=owner, confirm="Acme",
                                    expected_version=None, cause=CAUSE)
        assert info.value.param == "confirm"
        deleted = app.delete_organization(org_id, actor_user_id=owner, confirm="Beta",
                                          expected_version=2, cause=CAUSE)
        assert deleted.position == app.recorder.max_notification_id()
        assert deleted.aggregate.state is Lifecycle.DELETED
        with pytest.raises(NotFoundError):
            app.organization(org_id)
        with pytest.raises(NotFoundError):
            app.update_organization(org_id, name="Gamma", settings=None,
                                    expected_version=None, cause=CAUSE)
        stored = app.repository.get(org_id)
        assert isinstance(stored, Organization)
        assert (stored.state, stored.version) == (Lifecycle.DELETED, 3)

    def test_if_match_on_organization_commands(self, app: TenancyService) -> None:
        owner = uuid4()
        org_id = app.open_personal_organization(owner, "Acme", CAUSE).aggregate.id
        with pytest.raises(VersionMismatchError) as info:
            app.update_organization(org_id, name="Beta", settings=None, expected_version=2,
                                    cause=CAUSE)
        assert info.value.code == "precondition_failed"
        with pytest.raises(VersionMismatchError):
            app.delete_organization(org_id, actor_user_id=owner, confirm="Acme",
                                    expected_version=0, cause=CAUSE)
        assert app.organization(org_id).version == 1

    # -- projects: the write path ----------------------------------------------------------

    def test_create_update_delete_project_return_positions(
            self, app: TenancyService, org_id: UUID) -> None:
        created = self.create(app, org_id, " Alpha ")
        project = created.aggregate
        assert (project.name, project.org_id, project.version) == ("Alpha", org_id, 1)
        assert created.position == app.recorder.max_notification_id()
        assert not created.replayed

        updated = app.update_project(org_id, project.id, name=None, description="about",
                                     metadata={"team": "ml"}, expected_version=1, cause=CAUSE)
        assert updated.position is not None
        assert created.position is not None
        assert updated.position > created.position
        assert updated.position == app.recorder.max_notification_id()
        assert (updated.aggregate.description, updated.aggregate.version) == ("about", 2)

        noop = app.update_project(org_id, project.id, name="Alpha", description="about",
                                  metadata=None, expected_version=None, cause=CAUSE)
        assert (noop.position, noop.aggregate.version) == (None, 2)

        deleted = app.delete_project(org_id, project.id, expected_version=2, cause=CAUSE)
        assert deleted.position is not None
        assert deleted.position > updated.position
        assert deleted.position == app.recorder.max_notification_id()
        assert deleted.aggregate.state is Lifecycle.DELETED
        with pytest.raises(NotFoundError):
            app.project(org_id, project.id)
        with pytest.raises(NotFoundError):
            app.delete_project(org_id, project.id, expected_version=None, cause=CAUSE)

    def test_a_project_is_not_found_from_another_organization(
            self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id).aggregate
        other = app.open_personal_organization(uuid4(), "Other", CAUSE).aggregate.id
        with pytest.raises(NotFoundError):
            app.project(other, project.id)
        with pytest.raises(NotFoundError):
            self.rename(app, other, project.id, "Stolen")
        with pytest.raises(NotFoundError):
            app.delete_project(other, project.id, expected_version=None, cause=CAUSE)
        with pytest.raises(NotFoundError):
            app.project(org_id, org_id)  # an id of another type
        with pytest.raises(NotFoundError):
            app.project(org_id, uuid4())
        assert app.project(org_id, project.id).version == 1

    def test_if_match_on_project_commands(self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id).aggregate
        with pytest.raises(VersionMismatchError):
            app.update_project(org_id, project.id, name="Beta", description=None,
                               metadata=None, expected_version=2, cause=CAUSE)
        with pytest.raises(VersionMismatchError):
            app.delete_project(org_id, project.id, expected_version=0, cause=CAUSE)
        assert app.project(org_id, project.id).name == "Alpha"
        self.create(app, org_id, "Beta")  # the failed rename took no claim
        app.delete_project(org_id, project.id, expected_version=1, cause=CAUSE)

    # -- projects: unique names ------------------------------------------------------------

    def test_names_are_unique_per_organization_whatever_their_case(
            self, app: TenancyService, org_id: UUID) -> None:
        self.create(app, org_id, "Alpha")
        for taken in ("Alpha", "ALPHA", " alpha "):
            with pytest.raises(NameTakenError) as info:
                self.create(app, org_id, taken)
            assert info.value.param == "name"
        other = app.open_personal_organization(uuid4(), "Other", CAUSE).aggregate.id
        assert self.create(app, other, "ALPHA").aggregate.name == "ALPHA"

    def test_a_rename_frees_the_old_name_and_takes_the_new(
            self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id, "Old").aggregate
        renamed = self.rename(app, org_id, project.id, "New")
        assert renamed.position == app.recorder.max_notification_id()
        with pytest.raises(NameTakenError):
            self.create(app, org_id, "new")
        assert self.create(app, org_id, "OLD").aggregate.name == "OLD"

    def test_a_rename_that_changes_only_case_keeps_the_name(
            self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id, "Alpha").aggregate
        assert self.rename(app, org_id, project.id, "ALPHA").aggregate.name == "ALPHA"
        with pytest.raises(NameTakenError):
            self.create(app, org_id, "alpha")
        self.rename(app, org_id, project.id, "Beta")
        self.create(app, org_id, "alpha")

    def test_a_rename_to_a_taken_name_changes_nothing(
            self, app: TenancyService, org_id: UUID) -> None:
        self.create(app, org_id, "Alpha")
        beta = self.create(app, org_id, "Beta").aggregate
        before = app.recorder.max_notification_id()
        with pytest.raises(NameTakenError):
            self.rename(app, org_id, beta.id, "alpha")
        assert app.recorder.max_notification_id() == before
        assert app.project(org_id, beta.id).name == "Beta"

    def test_a_project_renamed_back_reclaims_its_old_name(
            self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id, "Alpha").aggregate
        self.rename(app, org_id, project.id, "Beta")
        self.rename(app, org_id, project.id, "Alpha")
        self.create(app, org_id, "Beta")
        with pytest.raises(NameTakenError):
            self.create(app, org_id, "Alpha")

    def test_a_deleted_project_frees_its_name(self, app: TenancyService, org_id: UUID) -> None:
        first = self.create(app, org_id, "Alpha").aggregate
        app.delete_project(org_id, first.id, expected_version=None, cause=CAUSE)
        second = self.create(app, org_id, "alpha").aggregate
        assert second.id != first.id
        with pytest.raises(NameTakenError):
            self.create(app, org_id, "Alpha")

    # -- projects: idempotency -------------------------------------------------------------

    def test_same_key_and_body_replays_the_first_project(
            self, app: TenancyService, org_id: UUID) -> None:
        first = self.create(app, org_id, cause=keyed("k1"))
        before = app.recorder.max_notification_id()
        again = self.create(app, org_id, cause=keyed("k1"))
        assert again.replayed
        assert again.position == before  # nothing written; the answer waits for the head
        assert again.aggregate.id == first.aggregate.id
        assert app.recorder.max_notification_id() == before

    def test_same_key_with_another_body_is_rejected(
            self, app: TenancyService, org_id: UUID) -> None:
        self.create(app, org_id, cause=keyed("k1"))
        with pytest.raises(IdempotencyKeyReusedError) as info:
            self.create(app, org_id, "Beta", fingerprint="other", cause=keyed("k1"))
        assert info.value.code == "idempotency_key_reused"

    def test_same_key_in_another_organization_is_another_project(
            self, app: TenancyService, org_id: UUID) -> None:
        first = self.create(app, org_id, cause=keyed("k1")).aggregate
        other = app.open_personal_organization(uuid4(), "Other", CAUSE).aggregate.id
        second = self.create(app, other, cause=keyed("k1"))
        assert not second.replayed
        assert second.aggregate.id != first.id

    # -- concurrency -----------------------------------------------------------------------

    def test_concurrent_creates_of_one_name_make_exactly_one_project(
            self, app: TenancyService, org_id: UUID) -> None:
        results = run_together(THREADS, lambda i: self.create(app, org_id, "Race",
                                                               fingerprint=f"fp{i}"))
        created = [r for r in results if isinstance(r, Outcome)]
        taken = [r for r in results if isinstance(r, NameTakenError)]
        assert (len(created), len(taken)) == (1, THREADS - 1), results
        assert topics(app).count("bitstride.tenancy.Project.Created") == 1
        assert app.project(org_id, created[0].aggregate.id).name == "Race"

    def test_concurrent_creates_with_one_key_make_one_project(
            self, app: TenancyService, org_id: UUID) -> None:
        results = run_together(THREADS, lambda _: self.create(app, org_id, "Keyed",
                                                              cause=keyed("same")))
        assert all(isinstance(r, Outcome) for r in results), results
        outcomes = [r for r in results if isinstance(r, Outcome)]
        assert len({outcome.aggregate.id for outcome in outcomes}) == 1
        assert sum(not outcome.replayed for outcome in outcomes) == 1
        assert topics(app).count("bitstride.tenancy.Project.Created") == 1

    def test_concurrent_updates_lose_nothing(self, app: TenancyService, org_id: UUID) -> None:
        project = self.create(app, org_id, "Shared").aggregate
        count = 10

        def update(i: int) -> Outcome[Project]:
            # Even threads rename (each to its own name), odd threads change the description.
            if i % 2 == 0:
                return self.rename(app, org_id, project.id, f"Shared {i}")
            return app.update_project(org_id, project.id, name=None, description=f"d{i}",
                                      metadata={"writer": str(i)}, expected_version=None,
                                      cause=CAUSE)

        results = run_together(count, update)
        unexpected = [r for r in results if isinstance(r, Exception)
                      and not isinstance(r, DomainError)]
        assert unexpected == []
        outcomes = [r for r in results if isinstance(r, Outcome)]
        writes = [outcome for outcome in outcomes if outcome.position is not None]
        final = app.project(org_id, project.id)
        assert final.version == 1 + len(writes)
        assert final.version == len(list(app.repository.event_store.get(project.id)))
        # The final name is held; every other name tried is free again.
        with pytest.raises(NameTakenError):
            self.create(app, org_id, final.name.upper())
        for name in {"Shared", *(f"Shared {i}" for i in range(0, count, 2))} - {final.name}:
            self.create(app, org_id, name)

    # -- a deleted organization ------------------------------------------------------------

    def test_no_project_is_created_in_a_deleted_organization(self, app: TenancyService) -> None:
        owner = uuid4()
        org_id = app.open_personal_organization(owner, "Acme", CAUSE).aggregate.id
        app.delete_organization(org_id, actor_user_id=owner, confirm="Acme",
                                expected_version=None, cause=CAUSE)
        with pytest.raises((NotFoundError, InvalidStateTransitionError)):
            self.create(app, org_id, "Orphan")


class TestTenancyServiceInMemory(InMemoryStore, TenancyServiceContract):
    """The contract on the in-memory store."""


class TestTenancyServiceSQLite(SQLiteStore, TenancyServiceContract):
    """The contract on the SQLite store."""


class TestTenancyServicePostgres(PostgresStore, TenancyServiceContract):
    """The contract on the Postgres store."""
