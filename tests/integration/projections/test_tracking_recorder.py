"""SqlTrackingRecorder and SqlView held to eventsourcing's own TrackingRecorderTestCase.

Runs against a SQLite file and a real Postgres schema. The library's test case is unittest
style, so the Postgres variant creates and drops its own schema instead of using fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.tests.persistence import TrackingRecorderTestCase
from psycopg import sql
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
)

from infra.database import read_model_engine
from projections.signal import position_payload
from projections.tracking import SqlTrackingRecorder
from projections.view import SqlView
from tests.conftest import TEST_DATABASE_URL

# -- backends --------------------------------------------------------------------------------


class SqliteBackend(unittest.TestCase):
    """A fresh SQLite file per test."""

    def setUp(self) -> None:
        super().setUp()
        self.directory = Path(tempfile.mkdtemp(prefix="tracking-"))
        self.engine = read_model_engine(None, self.directory / "read.sqlite3", "unused")

    def tearDown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)
        super().tearDown()


class PostgresBackend(unittest.TestCase):
    """A fresh Postgres schema per test; skipped locally without a server, failing in CI."""

    def setUp(self) -> None:
        super().setUp()
        try:
            with psycopg.connect(TEST_DATABASE_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as error:
            message = f"PostgreSQL at {TEST_DATABASE_URL} is not reachable: {error}"
            if os.environ.get("CI") == "true":
                raise AssertionError(message + " (CI=true: required)") from error
            raise unittest.SkipTest(message) from error
        self.schema = f"t{uuid.uuid4().hex[:12]}_rm"
        self.directory = Path(tempfile.mkdtemp(prefix="tracking-"))
        self.engine = read_model_engine(TEST_DATABASE_URL, self.directory / "unused.sqlite3",
                                        self.schema)

    def tearDown(self) -> None:
        self.engine.dispose()
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(self.schema)))
        shutil.rmtree(self.directory, ignore_errors=True)
        super().tearDown()


# -- the library's contract ----------------------------------------------------------------


class TrackingRecorderContract(TrackingRecorderTestCase):
    engine: Engine

    def create_recorder(self) -> SqlTrackingRecorder:
        return SqlTrackingRecorder(self.engine, f"tracker-{uuid.uuid4().hex}")


class ViewContract(TrackingRecorderTestCase):
    engine: Engine

    def create_recorder(self) -> SqlView:
        return SqlView(self.engine, f"view-{uuid.uuid4().hex}")


class TestSqliteTrackingRecorder(SqliteBackend, TrackingRecorderContract):
    pass


@pytest.mark.postgres
class TestPostgresTrackingRecorder(PostgresBackend, TrackingRecorderContract):
    pass


class TestSqliteView(SqliteBackend, ViewContract):
    pass


@pytest.mark.postgres
class TestPostgresView(PostgresBackend, ViewContract):
    pass


del TrackingRecorderContract, ViewContract  # abstract for the collector: run only via backends


# -- batching ------------------------------------------------------------------------------

APP = "upstream"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    else:
        postgres_url = request.getfixturevalue("postgres_url")
        schemas = request.getfixturevalue("pg_schemas")
        engine = read_model_engine(postgres_url, tmp_path / "x.sqlite3",
                                   schemas["read_model_schema"])
    request.addfinalizer(engine.dispose)
    return engine


@pytest.fixture
def items(engine: Engine) -> Table:
    table = Table("batched_items", MetaData(), Column("id", Integer, primary_key=True),
                  Column("label", String(50), nullable=False))
    table.metadata.create_all(engine)
    return table


def rows(engine: Engine, table: Table) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(table.c.id))]


def writer(table: Table, notification_id: int) -> Callable[[Connection], object]:
    return lambda conn: conn.execute(insert(table).values(id=notification_id,
                                                          label=f"event {notification_id}"))


def test_batch_commits_rows_of_many_events_and_one_position_together(
        engine: Engine, items: Table) -> None:
    view = SqlView(engine, "batched")
    with view.batch():
        for notification_id in (1, 2, 3):
            view.record(Tracking(APP, notification_id), writer(items, notification_id))
        # Another connection sees nothing yet: neither rows nor a position.
        assert rows(engine, items) == []
        assert view.max_tracking_id(APP) is None

    assert rows(engine, items) == [(1, "event 1"), (2, "event 2"), (3, "event 3")]
    assert view.max_tracking_id(APP) == 3
    with pytest.raises(IntegrityError):  # the position recorded is the batch's last one
        view.insert_tracking(Tracking(APP, 3))
    view.insert_tracking(Tracking(APP, 4))


def test_a_process_managers_positions_in_a_batch_commit_once_at_its_end(engine: Engine) -> None:
    """insert_tracking (what a process manager calls) defers like record() inside a batch."""
    view = SqlView(engine, "managed")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]) if "tracking" in args[2] else None)
    with view.batch():
        for notification_id in (1, 2, 3):
            view.insert_tracking(Tracking(APP, notification_id))
        assert view.max_tracking_id(APP) is None
    assert view.max_tracking_id(APP) == 3
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1
    view.insert_tracking(Tracking(APP, 4))  # outside a batch: at once
    assert view.max_tracking_id(APP) == 4


def test_exception_inside_a_batch_leaves_neither_rows_nor_tracking(
        engine: Engine, items: Table) -> None:
    view = SqlView(engine, "batched")
    view.record(Tracking(APP, 1), writer(items, 1))

    class HandlerError(Exception):
        pass

    with pytest.raises(HandlerError), view.batch():
        view.record(Tracking(APP, 2), writer(items, 2))
        view.record(Tracking(APP, 3), writer(items, 3))
        raise HandlerError

    assert rows(engine, items) == [(1, "event 1")]
    assert view.max_tracking_id(APP) == 1
    # The view is usable afterwards: the same events apply once, in a new batch.
    with view.batch():
        view.record(Tracking(APP, 2), writer(items, 2))
        view.record(Tracking(APP, 3), writer(items, 3))
    assert [row[0] for row in rows(engine, items)] == [1, 2, 3]
    assert view.max_tracking_id(APP) == 3


def test_a_batch_repeating_an_applied_position_is_refused_whole(
        engine: Engine, items: Table) -> None:
    view = SqlView(engine, "batched")
    with view.batch():
        view.record(Tracking(APP, 1), writer(items, 1))
        view.record(Tracking(APP, 2), writer(items, 2))

    with pytest.raises(IntegrityError), view.batch():
        view.record(Tracking(APP, 2), lambda conn: conn.execute(
            insert(items).values(id=20, label="again")))

    assert rows(engine, items) == [(1, "event 1"), (2, "event 2")]
    assert view.max_tracking_id(APP) == 2


class Heard:
    """A signal that keeps what each notify announced, in order."""

    def __init__(self) -> None:
        self.payloads: list[object] = []

    def notify(self, payload: object = None, *_: object) -> None:
        self.payloads.append(payload)


def test_a_topic_is_announced_on_commit_before_the_position(engine: Engine,
                                                            items: Table) -> None:
    """What the organization-state cache relies on: woken by the topic before any
    read-your-writes waiter is woken by the position, and only when the rows committed."""
    heard = Heard()
    view = SqlView(engine, "topical", heard)  # type: ignore[arg-type]  # duck-typed signal
    with view.batch():
        view.record(Tracking(APP, 1), writer(items, 1))
        view.record(Tracking(APP, 2), writer(items, 2), topic="states")
        assert heard.payloads == []
    assert heard.payloads == ["states", position_payload("topical", APP, 2)]

    heard.payloads.clear()
    view.record(Tracking(APP, 3), writer(items, 3))  # a commit without a topic
    assert heard.payloads == [position_payload("topical", APP, 3)]

    heard.payloads.clear()
    with pytest.raises(LookupError), view.batch():
        view.record(Tracking(APP, 4), writer(items, 4), topic="states")
        raise LookupError  # a handler failed: the batch rolls back
    assert heard.payloads == []  # nothing announced
    assert view.max_tracking_id(APP) == 3
