"""`bitstride audit verify` on real activity in SQLite and Postgres, then on stores tampered
with directly in SQL: each edit, deletion, reordering, lost chain row and wrong read-model row
is named, by its notification id, in the exit message.

The activity is made once per backend; each test tampers, verifies, and undoes its tampering.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql

from application.datasets.service import NewDataset
from application.usage.service import NewUsage
from domain.shared.cause import SYSTEM
from infra.settings import Settings
from interfaces.cli.audit import audit
from interfaces.control_plane import ControlPlane

PASSWORD = "correct horse battery staple"


@dataclass
class Log:
    """One stored log's tables, reachable with plain SQL (`%s` placeholders on both)."""

    connect: Callable[[], Any]
    events: str
    chain: str
    nid: str  # the notification id column: SQLite's rowid, Postgres' notification_id
    paramstyle: str

    def query(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return list(conn.execute(statement.replace("%s", self.paramstyle), params))
        finally:
            conn.close()

    def run(self, statement: str, *params: Any) -> None:
        conn = self.connect()
        try:
            conn.execute(statement.replace("%s", self.paramstyle), params)
            conn.commit()
        finally:
            conn.close()

    def event_id(self, topic: str) -> int:
        rows = self.query(f"SELECT {self.nid} FROM {self.events} WHERE topic = %s "
                          f"ORDER BY {self.nid}", topic)
        return int(rows[0][0])


@dataclass
class Store:
    settings: Settings
    control: Log   # the tenancy log (on SQLite, every control-plane context's)
    auth: Log
    read_models: Log  # only `connect`, `query` and `run` are used
    projects: str     # the projects read-model table


def sqlite_log(path: Path) -> Log:
    return Log(lambda: sqlite3.connect(path), "stored_events", "stored_events_chain", "rowid",
               "?")


def postgres_log(url: str, schema: str, table: str) -> Log:
    events = f'"{schema}".{table}'
    return Log(lambda: psycopg.connect(url), events, f'"{schema}".{table}_chain',
               "notification_id", "%s")


def make_activity(settings: Settings) -> None:
    """Some of every kind of event a plane records, projected, through the real applications."""
    plane = ControlPlane(settings)
    try:
        assert plane.identity is not None
        user_id, _ = plane.identity.register(f"ada-{uuid.uuid4().hex[:8]}@example.com", "Ada",
                                             PASSWORD)
        org = plane.tenancy.open_personal_organization(user_id, "Ada", SYSTEM).aggregate.id
        project = plane.tenancy.create_project(org, name="p", description="", metadata={},
                                               request_fingerprint="f", cause=SYSTEM).aggregate
        plane.tenancy.update_project(org, project.id, name="q", description="changed",
                                     metadata=None, expected_version=None, cause=SYSTEM)
        plane.datasets.create_dataset(org, NewDataset(
            project_id=None, name="d", description="", purpose="fine_tuning",
            data_format="chat", metadata={}), request_fingerprint="f", cause=SYSTEM)
        plane.usage.record([NewUsage(source_kind="request", source_id=f"r{i}",
                                     meter="inference.input_tokens", quantity=10 + i,
                                     org_id=org, project_id=project.id, occurred_at=1.0 + i)
                            for i in range(3)], cause=SYSTEM)
        for name in plane.read_models.models:
            plane.read_models.runner(name, plane.generations.active(name, fresh=True)).catch_up()
    finally:
        plane.close()


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Store]:
    data_dir = tmp_path_factory.mktemp("audit") / "var"
    common: dict[str, Any] = {"data_dir": data_dir, "training_executor": "none",
                              "deployment_controller": False}
    if request.param == "sqlite":
        settings = Settings(**common)
        make_activity(settings)
        yield Store(settings, sqlite_log(settings.events_sqlite_path),
                    sqlite_log(settings.auth_sqlite_path),
                    sqlite_log(settings.events_sqlite_path), "projects_g1")
        return
    url: str = request.getfixturevalue("postgres_url")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    schemas = {"database_schema": f"{prefix}_es", "read_model_schema": f"{prefix}_rm",
               "auth_database_schema": f"{prefix}_auth"}
    settings = Settings(database_url=url, auth_database_url=url, **schemas, **common)
    try:
        make_activity(settings)
        rm = schemas["read_model_schema"]
        yield Store(settings, postgres_log(url, schemas["database_schema"], "tenancy_events"),
                    postgres_log(url, schemas["auth_database_schema"], "auth_events"),
                    Log(lambda: psycopg.connect(url), "", "", "", "%s"), f'"{rm}".projects_g1')
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))


def verify(settings: Settings) -> Result:
    return CliRunner().invoke(audit, ["verify"], obj=settings)


def failure(settings: Settings) -> str:
    result = verify(settings)
    assert result.exit_code == 1, result.output
    return result.output.strip().splitlines()[-1]


@contextmanager
def changed(log: Log, nid: int, column: str, value: Any) -> Iterator[None]:
    """One column of one event row changed, then restored."""
    (old,) = log.query(f"SELECT {column} FROM {log.events} WHERE {log.nid} = %s", nid)[0]
    log.run(f"UPDATE {log.events} SET {column} = %s WHERE {log.nid} = %s", value, nid)
    try:
        yield
    finally:
        log.run(f"UPDATE {log.events} SET {column} = %s WHERE {log.nid} = %s", old, nid)


@contextmanager
def deleted(log: Log, table: str, key: str, nid: int) -> Iterator[None]:
    """One row deleted, then put back exactly (its notification id included)."""
    columns = f"{log.nid}, *" if key == "rowid" else "*"
    (row,) = log.query(f"SELECT {columns} FROM {table} WHERE {key} = %s", nid)
    log.run(f"DELETE FROM {table} WHERE {key} = %s", nid)
    try:
        yield
    finally:
        marks = ", ".join(["%s"] * len(row))
        names = "(rowid, originator_id, originator_version, topic, state) " \
            if key == "rowid" else ""
        log.run(f"INSERT INTO {table} {names}VALUES ({marks})", *row)


@contextmanager
def swapped(log: Log, first: int, second: int) -> Iterator[None]:
    """Two events exchange their notification ids (their places in the log), then back."""
    def swap() -> None:
        for old, new in ((first, -1), (second, first), (-1, second)):
            log.run(f"UPDATE {log.events} SET {log.nid} = %s WHERE {log.nid} = %s", new, old)

    swap()
    try:
        yield
    finally:
        swap()


def test_a_clean_store_passes_with_a_summary(store: Store) -> None:
    result = verify(store.settings)
    assert result.exit_code == 0, result.output
    summary = result.output
    assert "OK: " in summary and "events chained and intact" in summary
    assert "0 not yet projected" in summary
    assert "replayed only: 2 ProjectNameClaim (name claim)" in summary  # "p", then "q"
    assert "replayed only: 1 User (auth service, no read model here)" in summary


def test_an_edited_state_blob_is_named(store: Store) -> None:
    log = store.control
    nid = log.event_id("bitstride.tenancy.Project.Updated")
    (state,) = log.query(f"SELECT state FROM {log.events} WHERE {log.nid} = %s", nid)[0]
    with changed(log, nid, "state", bytes(state).replace(b"changed", b"chang3d")):
        message = failure(store.settings)
    assert f"event #{nid} (" in message and " v2, bitstride.tenancy.Project.Updated)" in message
    assert message.endswith("was edited: its hash does not match the chain")
    assert ("tenancy log" in message) == (store.settings.database_url is not None)


def test_a_deleted_event_is_named(store: Store) -> None:
    log = store.control
    nid = log.event_id("bitstride.tenancy.Project.Updated")
    with deleted(log, log.events, log.nid, nid):
        assert failure(store.settings).endswith(
            f"event #{nid} was deleted (its chain row remains)")


def test_an_event_deleted_with_its_chain_row_is_named(store: Store) -> None:
    log = store.control
    nid = log.event_id("bitstride.tenancy.Project.Updated")
    with deleted(log, log.events, log.nid, nid), \
            deleted(log, log.chain, "notification_id", nid):
        assert f"event #{nid} was deleted together with its chain row" in failure(
            store.settings)


def test_two_reordered_events_are_named(store: Store) -> None:
    log = store.control
    first = log.event_id("bitstride.tenancy.Project.Created")
    second = int(log.query(f"SELECT MIN({log.nid}) FROM {log.events} WHERE {log.nid} > %s",
                           first)[0][0])
    with swapped(log, first, second):
        assert f"events #{first} and #{second} are out of order" in failure(store.settings)


def test_a_deleted_chain_row_is_named(store: Store) -> None:
    log = store.control
    nid = log.event_id("bitstride.tenancy.Project.Created")
    with deleted(log, log.chain, "notification_id", nid):
        message = failure(store.settings)
    assert f"event #{nid} (" in message and message.endswith(
        "has no chain row: it was added outside the chained recorder")


def test_an_edited_auth_event_is_named_in_the_auth_log(store: Store) -> None:
    log = store.auth
    nid = log.event_id("bitstride.identity.User.Created")
    with changed(log, nid, "topic", "bitstride.identity.User.Deleted"):
        message = failure(store.settings)
    assert message.startswith("Error: auth log: ") and f"event #{nid} (" in message
    assert "was edited" in message


def test_a_tampered_projection_row_is_named(store: Store) -> None:
    rm, table = store.read_models, store.projects
    (project_id,) = rm.query(f"SELECT id FROM {table}")[0]
    rm.run(f"UPDATE {table} SET version = 7 WHERE id = %s", project_id)
    try:
        message = failure(store.settings)
    finally:
        rm.run(f"UPDATE {table} SET version = 2 WHERE id = %s", project_id)
    assert f"Project {project_id} has version 2 in the log but 7 in projects_g1" in message
    assert "bitstride projections rebuild tenancy" in message
