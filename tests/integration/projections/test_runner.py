"""Runner: exactly once and resume, one active runner per projection, failures stop it.

Each test runs on a SQLite file (FileLock) and on a fresh Postgres schema (AdvisoryLock).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from psycopg import sql
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select
from structlog.testing import capture_logs

from application.tenancy.service import TenancyService
from domain.shared.cause import Cause
from infra.database import read_model_engine
from infra.eventstore import eventstore_env
from infra.locks import AdvisoryLock, FileLock
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from projections import runner as runner_module
from projections.runner import Runner, RunnerLock
from projections.signal import ChangeSignal
from projections.sql import upsert
from projections.tenancy.projection import TenancyProjection, TenancyView
from projections.view import SqlView

CAUSE = Cause(actor_id="user_test")
# Bounded waits: how long "still waiting" is observed, and the most a hand-over may take
# (a waiting lock retries every second).
STILL_WAITING_SECONDS = 1.5
HANDOVER_TIMEOUT_SECONDS = 10.0


@dataclass
class Backend:
    app: TenancyService
    engine: Engine
    make_lock: Callable[[str], RunnerLock]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    # Lock names are unique per test: advisory locks are database-wide, shared by everyone.
    suffix = uuid.uuid4().hex[:8]
    if request.param == "sqlite":
        app = TenancyService(env=eventstore_env(None, tmp_path / "events.sqlite3", "unused"))
        engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")

        def make_lock(name: str) -> RunnerLock:
            return FileLock(tmp_path / "locks", f"{name}-{suffix}")
    else:
        url = request.getfixturevalue("postgres_url")
        schemas = request.getfixturevalue("pg_schemas")
        app = TenancyService(env=eventstore_env(url, tmp_path / "x.sqlite3",
                                                schemas["database_schema"]))
        engine = read_model_engine(url, tmp_path / "x.sqlite3", schemas["read_model_schema"])

        def make_lock(name: str) -> RunnerLock:
            return AdvisoryLock(url, f"{name}-{suffix}")
    yield Backend(app, engine, make_lock)
    app.close()
    engine.dispose()


def seed(app: TenancyService, orgs: int = 3, projects_per_org: int = 4) -> None:
    """Opens organizations, creates, renames and deletes projects: a log of mixed events."""
    for o in range(orgs):
        org = app.open_personal_organization(uuid.uuid4(), f"org {o}", CAUSE).aggregate
        app.update_organization(org.id, name=f"org {o} renamed", settings={"tier": "gold"},
                                expected_version=None, cause=CAUSE)
        for p in range(projects_per_org):
            project = app.create_project(org.id, name=f"p{p}", description="d", metadata={},
                                         request_fingerprint="f", cause=CAUSE).aggregate
            if p % 2:
                app.update_project(org.id, project.id, name=f"p{p} renamed", description=None,
                                   metadata={"k": "v"}, expected_version=None, cause=CAUSE)
            if p % 3 == 2:
                app.delete_project(org.id, project.id, expected_version=None, cause=CAUSE)


def all_rows(view: TenancyView) -> dict[str, list[dict[str, Any]]]:
    result = {}
    with view.engine.connect() as conn:
        for kind, table in (("organizations", view.tables.organizations),
                            ("projects", view.tables.projects)):
            rows = conn.execute(select(table).order_by(table.c.id)).mappings()
            result[kind] = [dict(row) for row in rows]
    return result


class Counting:
    """Wraps a processor and counts how often each notification reached it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seen = inner, Counter[int]()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.inner.process_event(domain_event, tracking)
        self.seen[tracking.notification_id] += 1


def tenancy_runner(backend: Backend, view: TenancyView, processor: Any = None,
                   **options: Any) -> Runner:
    return Runner(name=view.tracker, app=backend.app,
                  processor=processor or TenancyProjection(view), recorder=view,
                  wakeup=ChangeSignal(), lock=backend.make_lock(view.tracker),
                  batch=view.batch, **options)


def rebuilt_from_scratch(backend: Backend, generation: int) -> TenancyView:
    view = TenancyView(backend.engine, generation)
    tenancy_runner(backend, view).catch_up()
    return view


# -- exactly once, resume ------------------------------------------------------------------


@pytest.mark.parametrize("first_part", [1, 7, 20])
def test_a_new_runner_resumes_where_the_stopped_one_ended(backend: Backend,
                                                          first_part: int) -> None:
    seed(backend.app)
    head = backend.head()
    assert head > first_part

    view = TenancyView(backend.engine, 1)
    first = Counting(TenancyProjection(view))
    assert tenancy_runner(backend, view, first).step(limit=first_part) == first_part
    assert view.max_tracking_id(backend.app.name) == first_part

    # A new process: a new view on the same tables, a new runner; it continues from there.
    resumed_view = TenancyView(backend.engine, 1)
    second = Counting(TenancyProjection(resumed_view))
    resumed = tenancy_runner(backend, resumed_view, second, batch_size=5)
    assert resumed.catch_up() == head - first_part
    assert resumed_view.max_tracking_id(backend.app.name) == head

    applied = first.seen + second.seen
    assert sorted(applied) == list(range(1, head + 1))
    assert set(applied.values()) == {1}, "an event was applied more than once"
    assert all_rows(resumed_view) == all_rows(rebuilt_from_scratch(backend, 2))
    for notification_id in (1, first_part, head):
        with pytest.raises(IntegrityError):
            resumed_view.insert_tracking(Tracking(backend.app.name, notification_id))


def test_a_crash_inside_a_batch_repeats_nothing_on_resume(backend: Backend) -> None:
    seed(backend.app)
    head = backend.head()
    view = TenancyView(backend.engine, 1)
    tenancy_runner(backend, view).step(limit=4)

    class CrashError(BaseException):
        """The process dying mid-batch: not an error the runner could handle."""

    class CrashingAt:
        def __init__(self, inner: Any, at: int) -> None:
            self.inner, self.at = inner, at

        def process_event(self, domain_event: Any, tracking: Tracking) -> None:
            if tracking.notification_id == self.at:
                raise CrashError
            self.inner.process_event(domain_event, tracking)

    with pytest.raises(CrashError):  # events 5..8 were written in the batch, then rolled back
        tenancy_runner(backend, view, CrashingAt(TenancyProjection(view), 9)).step(limit=10)
    assert view.max_tracking_id(backend.app.name) == 4

    counting = Counting(TenancyProjection(view))
    tenancy_runner(backend, view, counting).catch_up()
    assert sorted(counting.seen) == list(range(5, head + 1))
    assert set(counting.seen.values()) == {1}
    assert all_rows(view) == all_rows(rebuilt_from_scratch(backend, 2))


def test_a_live_runner_stopped_and_restarted_applies_each_event_once(
        backend: Backend) -> None:
    seed(backend.app, orgs=1)
    view = TenancyView(backend.engine, 1)
    counting = Counting(TenancyProjection(view))
    wakeup = ChangeSignal()
    backend.app.append_listeners.append(wakeup.notify)

    def live() -> Runner:
        runner = Runner(name="live", app=backend.app, processor=counting, recorder=view,
                        wakeup=wakeup, lock=backend.make_lock("live"), batch=view.batch)
        runner.start()
        return runner

    runner = live()
    view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    runner.stop()
    assert runner.status.state == "stopped"

    seed(backend.app, orgs=1)  # written while no runner runs
    runner = live()
    view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    seed(backend.app, orgs=1)  # written while it runs
    view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    runner.stop()

    assert sorted(counting.seen) == list(range(1, backend.head() + 1))
    assert set(counting.seen.values()) == {1}
    assert all_rows(view) == all_rows(rebuilt_from_scratch(backend, 2))


# -- one active runner per projection ------------------------------------------------------


def test_a_second_lock_holder_waits_until_the_first_releases(backend: Backend) -> None:
    first, second = backend.make_lock("exclusive"), backend.make_lock("exclusive")
    never = threading.Event()
    assert first.acquire(never)

    acquired = threading.Event()

    def contend() -> None:
        if second.acquire(never):
            acquired.set()

    contender = threading.Thread(target=contend, daemon=True)
    contender.start()
    try:
        assert not acquired.wait(STILL_WAITING_SECONDS), "both held the lock at once"
    finally:
        first.release()
    assert acquired.wait(HANDOVER_TIMEOUT_SECONDS), "the waiter never got the released lock"
    contender.join(HANDOVER_TIMEOUT_SECONDS)
    second.release()


def test_a_lock_waiter_gives_up_when_stopped(backend: Backend) -> None:
    first, second = backend.make_lock("exclusive"), backend.make_lock("exclusive")
    assert first.acquire(threading.Event())
    stop = threading.Event()
    result: list[bool] = []
    contender = threading.Thread(target=lambda: result.append(second.acquire(stop)),
                                 daemon=True)
    contender.start()
    stop.set()
    contender.join(HANDOVER_TIMEOUT_SECONDS)
    first.release()
    assert result == [False]


def counted(runner: Runner, expected: int) -> int:
    """The runner's count once it reaches `expected` (or after a bounded wait): the count is
    updated just after the commit that wakes `view.wait`, in the runner's own thread."""
    deadline = time.monotonic() + STILL_WAITING_SECONDS
    while runner.status.processed < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return runner.status.processed


def test_a_second_runner_waits_and_takes_over_when_the_first_stops(backend: Backend) -> None:
    seed(backend.app, orgs=1)
    view = TenancyView(backend.engine, 1)
    wakeup = ChangeSignal()
    backend.app.append_listeners.append(wakeup.notify)
    counting = Counting(TenancyProjection(view))

    def runner(name: str) -> Runner:
        return Runner(name=name, app=backend.app, processor=counting, recorder=view,
                      wakeup=wakeup, lock=backend.make_lock("tenancy@1"), batch=view.batch)

    first, second = runner("first"), runner("second")
    first.start()
    view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    assert first.status.state == "running"
    assert counted(first, backend.head()) == backend.head()

    second.start()
    assert second._thread is not None
    second._thread.join(STILL_WAITING_SECONDS)
    assert second._thread.is_alive()
    assert second.status.state == "waiting_for_lock"
    assert second.status.processed == 0

    first.stop()
    assert first.status.state == "stopped"
    seed(backend.app, orgs=1)
    view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    second.stop()

    assert second.status.processed > 0
    assert first.status.processed + second.status.processed == backend.head()
    assert set(counting.seen.values()) == {1}


@pytest.mark.postgres
def test_deployments_in_other_schemas_of_one_database_do_not_share_runner_locks(
        postgres_settings: Settings, postgres_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    other_settings = postgres_settings.with_overrides(
        database_schema=f"{prefix}_es", read_model_schema=f"{prefix}_rm",
        auth_database_schema=f"{prefix}_auth")
    planes = [ControlPlane(postgres_settings), ControlPlane(other_settings)]
    ours, theirs = (plane.runner_lock("tenancy@1") for plane in planes)
    stop, acquired = threading.Event(), threading.Event()
    contender = threading.Thread(target=lambda: theirs.acquire(stop) and acquired.set(),
                                 daemon=True)
    try:
        assert ours.acquire(stop)
        contender.start()
        assert acquired.wait(STILL_WAITING_SECONDS), "another deployment's lock blocked ours"
    finally:
        stop.set()
        contender.join(HANDOVER_TIMEOUT_SECONDS)
        ours.release()
        theirs.release()
        for plane in planes:
            plane.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for schema in (f"{prefix}_es", f"{prefix}_rm", f"{prefix}_auth"):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))


# -- a failing handler stops the runner ----------------------------------------------------


class HandlerBrokeError(Exception):
    pass


class FailingAt:
    """Records each event's position until `at`, where the handler raises."""

    def __init__(self, view: SqlView, at: int) -> None:
        self.view, self.at = view, at

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if tracking.notification_id == self.at:
            raise HandlerBrokeError("cannot apply this event")
        self.view.record(tracking)


@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_a_failing_handler_stops_the_runner_loudly(backend: Backend, batched: bool) -> None:
    seed(backend.app, orgs=1)
    view = SqlView(backend.engine, "fragile")
    failures: list[str] = []
    runner = Runner(name="fragile", app=backend.app, processor=FailingAt(view, 5),
                    recorder=view, wakeup=ChangeSignal(), lock=backend.make_lock("fragile"),
                    batch=view.batch if batched else None, on_failure=failures.append)

    with capture_logs() as logs:
        runner.run()  # returns once it has stopped itself

    assert runner.status.state == "failed"
    assert runner.status.error == "HandlerBrokeError: cannot apply this event"
    assert failures == ["fragile"]
    # Everything before the failing event was applied, nothing past it: a failed batch
    # rolls back whole and is applied again one event at a time.
    position = view.max_tracking_id(backend.app.name)
    assert position == 4
    failed = [entry for entry in logs if entry["event"] == "projection_failed"]
    assert len(failed) == 1
    assert failed[0]["log_level"] == "error"
    assert failed[0]["projection"] == "fragile"
    assert failed[0]["notification_id"] == 5
    assert "HandlerBrokeError" in failed[0]["error"]

    # The lock was released: a fixed handler resumes at the failed event.
    fixed = Runner(name="fragile", app=backend.app, processor=FailingAt(view, -1),
                   recorder=view, wakeup=ChangeSignal(), lock=backend.make_lock("fragile"))
    assert fixed.catch_up() == backend.head() - (position or 0)


class BadRowAt:
    """Queues a row that breaks a constraint at `at`: the batch fails when its rows are sent,
    after the handler has returned (projections/write_buffer.py)."""

    def __init__(self, view: SqlView, at: int) -> None:
        self.view, self.at = view, at
        self.table = Table(f"rows_{uuid.uuid4().hex[:8]}", MetaData(),
                           Column("id", Integer, primary_key=True),
                           Column("label", String(20), nullable=False))
        self.table.create(view.engine)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        row = {"id": tracking.notification_id,
               "label": None if tracking.notification_id == self.at else "ok"}
        self.view.record(tracking, lambda conn: upsert(conn, self.table, row, ["id"]))


def test_a_row_refused_at_the_batch_end_is_named_by_its_event(backend: Backend) -> None:
    seed(backend.app, orgs=2)
    assert backend.head() > 6
    view = SqlView(backend.engine, "strict")
    processor = BadRowAt(view, 5)
    runner = Runner(name="strict", app=backend.app, processor=processor, recorder=view,
                    wakeup=ChangeSignal(), lock=backend.make_lock("strict"), batch=view.batch)

    with capture_logs() as logs:
        runner.run()

    assert runner.status.state == "failed"
    failed = [entry for entry in logs if entry["event"] == "projection_failed"]
    assert [entry["notification_id"] for entry in failed] == [5]
    assert view.max_tracking_id(backend.app.name) == 4
    with backend.engine.connect() as conn:
        assert conn.execute(select(processor.table.c.id)).scalars().all() == [1, 2, 3, 4]


def test_a_following_runner_reads_its_position_once(backend: Backend,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """While it follows the log holding its lock nobody else moves its position, so it keeps
    it in memory instead of reading it back before every batch."""
    view = TenancyView(backend.engine, 1)
    wakeup = ChangeSignal()
    backend.app.append_listeners.append(wakeup.notify)
    reads: list[int | None] = []
    real = view.max_tracking_id

    def counted(application_name: str) -> int | None:
        position = real(application_name)
        if threading.current_thread().name == "runner-tenancy@1":  # not the test's own waits
            reads.append(position)
        return position

    monkeypatch.setattr(view, "max_tracking_id", counted)
    runner = Runner(name="tenancy@1", app=backend.app, processor=TenancyProjection(view),
                    recorder=view, wakeup=wakeup, lock=backend.make_lock("tenancy@1"),
                    batch=view.batch)
    runner.start()
    for _ in range(3):
        seed(backend.app, orgs=1, projects_per_org=1)
        view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    runner.stop()

    assert reads[:1] == [None] and len(reads) == 1, reads
    assert real(backend.app.name) == backend.head()


@pytest.mark.parametrize("complete", [True, False], ids=["every-append-heard", "may-miss"])
def test_an_idle_runner_looks_at_the_log_unasked_only_when_a_push_may_miss_it(
        backend: Backend, monkeypatch: pytest.MonkeyPatch, complete: bool) -> None:
    """Ticks keep their second while idle. With every append heard (a Postgres listener) the
    runner reads the log when woken, not once a second on its own; otherwise it still looks
    on its own, for the appends of processes it cannot hear."""
    monkeypatch.setattr(runner_module, "TICK_SECONDS", 0.02)
    monkeypatch.setattr(runner_module, "IDLE_RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(runner_module, "HEARD_RECHECK_SECONDS", 60.0)
    view = TenancyView(backend.engine, 1)
    wakeup = ChangeSignal()
    wakeup.complete = complete
    looks, ticks, ticked = [0], [0], threading.Event()
    real = backend.app.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "runner-tenancy@1":
            looks[0] += 1
        return real(*args, **kwargs)

    def tick() -> None:
        ticks[0] += 1
        if ticks[0] >= 15:
            ticked.set()

    monkeypatch.setattr(backend.app.recorder, "select_notifications", counted)
    runner = Runner(name="tenancy@1", app=backend.app, processor=TenancyProjection(view),
                    recorder=view, wakeup=wakeup, lock=backend.make_lock("tenancy@1"),
                    batch=view.batch, tick=tick)
    runner.start()
    try:
        assert ticked.wait(HANDOVER_TIMEOUT_SECONDS)  # 15 ticks, about 0.3 s, idle
        idle_looks = looks[0]
        seed(backend.app, orgs=1, projects_per_org=1)
        wakeup.notify()  # the append is heard: projected at once, not at a recheck
        view.wait(backend.app.name, backend.head(), timeout=HANDOVER_TIMEOUT_SECONDS)
    finally:
        runner.stop()
    if complete:
        assert idle_looks == 1  # the first look after starting, then none unasked
    else:
        assert idle_looks >= 3
