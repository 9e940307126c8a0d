"""Event-store connections are checked before use only when they sat idle (infra/pg_ping.py).

Against a real Postgres, with a pool of one connection: a connection just returned goes out
unchecked (no extra round trip); one idle past FRESH_SECONDS is pinged, and a dead one is
replaced before the caller sees it; a dead one reused within the window fails its statement
and eventsourcing's retry takes a new one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from application.shared.base import BitstrideApplication
from infra import pg_ping
from infra.eventstore import eventstore_env


class Log(BitstrideApplication):
    name = "PingLog"


@pytest.fixture
def app(postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> Iterator[Log]:
    env = eventstore_env(postgres_url, tmp_path / "unused.sqlite3",
                         pg_schemas["database_schema"])
    made = Log(env={**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"})
    yield made
    made.close()


def backend_pid(app: Log) -> int:
    with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    return int(row["pid"])


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    made: list[object] = []
    real = ConnectionPool.check_connection

    def counted(conn: object) -> None:
        made.append(conn)
        real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return made


def terminate(postgres_url: str, pid: int) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_just_returned_is_not_pinged(
        app: Log, pings: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    first = backend_pid(app)
    pings.clear()

    assert backend_pid(app) == first  # the same connection, at once
    app.recorder.max_notification_id()
    assert pings == []

    monkeypatch.setattr(pg_ping, "FRESH_SECONDS", 0.0)  # now every return counts as idle
    assert backend_pid(app) == first
    assert len(pings) == 1


def test_an_idle_dead_connection_is_replaced_before_use(
        app: Log, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_ping, "FRESH_SECONDS", 0.05)
    first = backend_pid(app)
    terminate(postgres_url, first)
    time.sleep(0.1)  # idle past the window: the next checkout pings, finds it dead

    assert backend_pid(app) != first  # no error reaches the caller


def test_a_dead_connection_reused_within_the_window_is_retried(
        app: Log, postgres_url: str) -> None:
    first = backend_pid(app)
    terminate(postgres_url, first)

    assert app.recorder.max_notification_id() is None  # the library retried on a new one
    assert backend_pid(app) != first
