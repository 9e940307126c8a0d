"""Read-model connections are checked before use only when they sat idle (infra/database.py).

Against a real Postgres: a connection just returned goes out unchecked (no extra round trip);
one idle past FRESH_SECONDS is pinged, and a dead one is replaced before the caller sees it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, exc, text

from infra import database
from infra.database import query_engine, read_model_engine


@pytest.fixture(params=["read_model", "query"])
def engine(request: pytest.FixtureRequest, postgres_url: str, pg_schemas: dict[str, str],
           tmp_path: Path) -> Iterator[Engine]:
    schema = pg_schemas["read_model_schema"]
    made = read_model_engine(postgres_url, tmp_path / "unused.sqlite3", schema, pool_size=1)
    if request.param == "query":
        made = query_engine(postgres_url, made, schema, pool_size=1)
    yield made
    made.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(engine: Engine, pid: int) -> None:
    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(False),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_just_returned_is_not_pinged(engine: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pings = count_pings(engine, monkeypatch)
    first = backend_pid(engine)
    pings.clear()

    assert backend_pid(engine) == first  # the same connection, reused at once
    assert pings == []

    monkeypatch.setattr(database, "FRESH_SECONDS", 0.0)  # now every return counts as idle
    assert backend_pid(engine) == first
    assert pings == [1]


def test_an_idle_dead_connection_is_replaced_before_use(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "FRESH_SECONDS", 0.05)
    first = backend_pid(engine)
    terminate(engine, first)
    time.sleep(0.1)  # idle past the window: the next checkout pings, finds it dead

    second = backend_pid(engine)  # no error reaches the caller

    assert second != first


def test_a_dead_connection_reused_within_the_window_fails_once_then_recovers(
        engine: Engine) -> None:
    first = backend_pid(engine)
    terminate(engine, first)

    with pytest.raises(exc.DBAPIError) as failed:
        backend_pid(engine)  # unchecked: the statement fails (the API answers 503)
    assert failed.value.connection_invalidated  # and the pool lets the connection go
    assert backend_pid(engine) != first
