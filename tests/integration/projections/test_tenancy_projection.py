"""The tenancy projection in a running control plane: rebuild, hand-over and pagination.

Runs on embedded SQLite and on fresh Postgres schemas, with the worker's live runners.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from domain.shared.cause import Cause
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.worker import rebuild
from projections.tenancy.projection import ORGANIZATION_STATES, PROJECTION_NAME
from projections.tenancy.tables import tenancy_tables
from projections.tracking import SqlTrackingRecorder

CAUSE = Cause(actor_id="user_test")
WAIT_SECONDS = 10.0  # bound of every wait below; each returns as soon as its condition holds


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    name = "sqlite_settings" if request.param == "sqlite" else "postgres_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings.with_overrides(read_your_writes_timeout_seconds=WAIT_SECONDS)


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(settings)
    yield plane
    plane.close()


@pytest.fixture
def live_plane(plane: ControlPlane) -> ControlPlane:
    plane.start_workers()
    return plane


# -- driving the service -------------------------------------------------------------------


@dataclass
class Org:
    id: UUID
    owner: UUID
    name: str
    projects: dict[UUID, str] = field(default_factory=dict)


class Driver:
    """Random-ish tenancy commands, each awaited in the read model like the HTTP API does."""

    def __init__(self, plane: ControlPlane, seed: int) -> None:
        self.plane, self.random = plane, random.Random(seed)
        self.orgs: list[Org] = []
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix} {self.counter}"

    def awaited(self, outcome: Any) -> Any:
        self.plane.await_projections(self.plane.tenancy.name, outcome.position)
        return outcome.aggregate

    def open_org(self) -> Org:
        owner = uuid.uuid4()
        org = self.awaited(self.plane.tenancy.open_personal_organization(
            owner, self.fresh("org"), CAUSE))
        self.orgs.append(Org(org.id, owner, org.name))
        return self.orgs[-1]

    def create_project(self, org: Org) -> UUID:
        project = self.awaited(self.plane.tenancy.create_project(
            org.id, name=self.fresh("project"), description="about it",
            metadata={"team": self.random.choice(["a", "b"])}, request_fingerprint="f",
            cause=CAUSE))
        org.projects[project.id] = project.name
        return project.id

    def step(self) -> None:
        tenancy = self.plane.tenancy
        org = self.random.choice(self.orgs)
        action = self.random.choice(["project"] * 4 + ["update", "rename", "delete", "org"])
        if action == "org" or not org.projects:
            if action == "org" and len(org.projects) > 2:
                org.name = self.fresh("org")
                self.awaited(tenancy.update_organization(
                    org.id, name=org.name, settings={"plan": self.fresh("plan")},
                    expected_version=None, cause=CAUSE))
            else:
                self.create_project(org)
            return
        project_id = self.random.choice(sorted(org.projects))
        if action == "project":
            self.create_project(org)
        elif action == "update":
            self.awaited(tenancy.update_project(
                org.id, project_id, name=None, description=self.fresh("text"),
                metadata={"k": self.fresh("v")}, expected_version=None, cause=CAUSE))
        elif action == "rename":
            org.projects[project_id] = self.fresh("project")
            self.awaited(tenancy.update_project(
                org.id, project_id, name=org.projects[project_id], description=None,
                metadata=None, expected_version=None, cause=CAUSE))
        else:
            del org.projects[project_id]
            self.awaited(tenancy.delete_project(org.id, project_id, expected_version=None,
                                                cause=CAUSE))

    def delete_org(self, org: Org) -> None:
        self.awaited(self.plane.tenancy.delete_organization(
            org.id, actor_user_id=org.owner, confirm=org.name, expected_version=None,
            cause=CAUSE))
        self.orgs.remove(org)

    def run(self, steps: int) -> None:
        for _ in range(3):
            self.open_org()
        for _ in range(steps):
            self.step()
        self.delete_org(self.orgs[0])


def settle(plane: ControlPlane) -> int:
    """Wait until the process managers and the projection have applied the whole log.

    Organization closure appends project deletions of its own, so repeat until the head holds.
    """
    closure = SqlTrackingRecorder(plane.read_engine, "organization-closure",
                                  plane.tracking_signal)
    while True:
        head = plane.tenancy.recorder.max_notification_id() or 0
        closure.wait(plane.tenancy.name, head, timeout=WAIT_SECONDS)
        plane.tracker(PROJECTION_NAME).wait(plane.tenancy.name, head, timeout=WAIT_SECONDS)
        if head == (plane.tenancy.recorder.max_notification_id() or 0):
            return head


def generation_rows(plane: ControlPlane, generation: int) -> dict[str, list[dict[str, Any]]]:
    tables = tenancy_tables(generation)
    with plane.read_engine.connect() as conn:
        return {kind: sorted((dict(row) for row in conn.execute(select(table)).mappings()),
                             key=lambda row: row["id"])
                for kind, table in (("organizations", tables.organizations),
                                    ("projects", tables.projects))}


def snapshot(plane: ControlPlane, orgs: list[Org]) -> dict[str, Any]:
    """What the read routes would answer for these organizations, through plane.queries."""
    queries, answers = plane.queries, {}
    for org in orgs:
        pages, after = [], None
        while True:
            rows, has_more = queries.projects(org.id.hex, after=after, limit=3)
            pages.append([row["id"] for row in rows])
            if not has_more:
                break
            after = rows[-1]["id"]
        answers[org.id.hex] = {
            "organization": queries.organization(org.id.hex),
            "state": queries.organization_state(org.id.hex),
            "pages": pages,
            "projects": [queries.project(org.id.hex, project_id.hex)
                         for project_id in sorted(org.projects)],
        }
    return answers


# -- rebuild -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 2024])
def test_a_rebuild_equals_the_live_projection_and_the_runner_hands_over(
        live_plane: ControlPlane, seed: int) -> None:
    plane = live_plane
    driver = Driver(plane, seed)
    driver.run(steps=40)
    head = settle(plane)
    baseline = snapshot(plane, driver.orgs)

    # Readers keep reading while the rebuild runs, and once more in the middle of it.
    read_now, read_done, finished = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    answers: list[dict[str, Any]] = []

    def reader() -> None:
        while not finished.is_set():
            try:
                answers.append(snapshot(plane, driver.orgs))
            except BaseException as error:
                errors.append(error)
                return
            if read_now.is_set():
                read_now.clear()
                read_done.set()

    def progress(_count: int) -> None:
        read_now.set()
        assert read_done.wait(WAIT_SECONDS), "no read completed during the rebuild"
        read_done.clear()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        assert rebuild(plane, PROJECTION_NAME, progress) == 2
    finally:
        finished.set()
        thread.join(WAIT_SECONDS)

    assert errors == []
    assert answers, "no read completed"
    assert all(answer == baseline for answer in answers)
    assert plane.generations.active(PROJECTION_NAME) == 2
    assert snapshot(plane, driver.orgs) == baseline

    old, new = generation_rows(plane, 1), generation_rows(plane, 2)
    assert old["organizations"] and old["projects"]
    assert new == old
    assert plane.tracker(PROJECTION_NAME).max_tracking_id(plane.tenancy.name) == head

    # The live runner hands over to generation 2: a new command becomes visible there.
    org = driver.orgs[-1]
    project_id = driver.create_project(org)
    assert plane.queries.project(org.id.hex, project_id.hex) is not None
    assert plane.runners[0].name == f"{PROJECTION_NAME}@2"
    assert plane.runners[0].status.state == "running"

    # A second rebuild drops generation 1 and builds 3 from the log, equal to 2.
    settle(plane)
    assert rebuild(plane, PROJECTION_NAME) == 3
    assert generation_rows(plane, 3) == generation_rows(plane, 2)


def test_a_switch_never_takes_back_what_readers_already_saw(live_plane: ControlPlane) -> None:
    """A write made (and read) mid-rebuild is still readable once readers switched."""
    plane = live_plane
    driver = Driver(plane, seed=1)
    org = driver.open_org()
    driver.create_project(org)
    written: list[UUID] = []

    def progress(_count: int) -> None:  # a client writes and reads its write mid-rebuild
        if not written:
            written.append(driver.create_project(org))
            assert plane.queries.project(org.id.hex, written[0].hex) is not None

    assert rebuild(plane, PROJECTION_NAME, progress) == 2
    assert plane.generations.active(PROJECTION_NAME, fresh=True) == 2
    assert plane.queries.project(org.id.hex, written[0].hex) is not None
    assert plane.tenancy_projection.generation == 2  # the live runner took over


def test_without_a_live_runner_the_rebuild_switches_by_itself(plane: ControlPlane) -> None:
    plane.tenancy_runner(1).catch_up()
    org_id = plane.tenancy.open_personal_organization(uuid.uuid4(), "Quiet", CAUSE).aggregate.id
    assert rebuild(plane, PROJECTION_NAME) == 2
    assert plane.generations.active(PROJECTION_NAME, fresh=True) == 2
    assert plane.queries.organization(org_id.hex) is not None


# -- pagination ----------------------------------------------------------------------------


def test_projects_are_paged_newest_first_with_a_stable_cursor(
        live_plane: ControlPlane) -> None:
    plane, queries = live_plane, live_plane.queries
    driver = Driver(plane, seed=3)
    org, other = driver.open_org(), driver.open_org()
    existing = [driver.create_project(org) for _ in range(11)]
    driver.create_project(other)
    newest_first = [project_id.hex for project_id in reversed(existing)]

    seen: list[str] = []
    after = None
    while True:
        rows, has_more = queries.projects(org.id.hex, after=after, limit=4)
        assert len(rows) <= 4
        assert all(row["org_id"] == org.id.hex for row in rows)
        seen += [row["id"] for row in rows]
        # Projects created between page fetches never shift the pages already promised.
        driver.create_project(org)
        if not has_more:
            break
        after = rows[-1]["id"]

    assert seen == newest_first
    assert len(seen) == len(set(seen))


def test_limit_and_has_more_at_the_edges(live_plane: ControlPlane) -> None:
    plane, queries = live_plane, live_plane.queries
    driver = Driver(plane, seed=4)
    org = driver.open_org()
    assert queries.projects(org.id.hex, after=None, limit=3) == ([], False)

    ids = [driver.create_project(org).hex for _ in range(6)][::-1]
    rows, has_more = queries.projects(org.id.hex, after=None, limit=6)
    assert ([row["id"] for row in rows], has_more) == (ids, False)
    rows, has_more = queries.projects(org.id.hex, after=None, limit=5)
    assert ([row["id"] for row in rows], has_more) == (ids[:5], True)
    rows, has_more = queries.projects(org.id.hex, after=ids[2], limit=3)
    assert ([row["id"] for row in rows], has_more) == (ids[3:], False)
    assert queries.projects(org.id.hex, after=ids[-1], limit=3) == ([], False)

    # A deleted project leaves the pages; its id still works as a cursor.
    plane.await_projections(plane.tenancy.name, plane.tenancy.delete_project(
        org.id, UUID(hex=ids[2]), expected_version=None, cause=CAUSE).position)
    rows, _ = queries.projects(org.id.hex, after=None, limit=10)
    assert [row["id"] for row in rows] == ids[:2] + ids[3:]
    rows, _ = queries.projects(org.id.hex, after=ids[2], limit=10)
    assert [row["id"] for row in rows] == ids[3:]
    # Another organization's project is no cursor here.
    other = driver.open_org()
    foreign = driver.create_project(other).hex
    assert queries.projects(org.id.hex, after=foreign, limit=10) == ([], False)


def test_the_organization_state_cache_moves_on_only_when_a_state_changes(
        live_plane: ControlPlane) -> None:
    """Every authenticated request checks its organization's state from a cache. A project
    created leaves it alone; a deletion moves it on before the deleting request's
    read-your-writes answers, so the very next request is refused."""
    plane, driver = live_plane, Driver(live_plane, seed=1)
    org = driver.open_org()
    watcher = plane.tracking_signal.watch(ORGANIZATION_STATES)
    seen = watcher.generation()

    def state() -> str | None:
        return asyncio.run(plane.organization_states.state(org.id.hex))

    assert state() == "active"
    driver.create_project(org)
    driver.create_project(org)
    assert watcher.generation() == seen
    driver.delete_org(org)
    assert watcher.generation() > seen
    assert state() == "deleted"
