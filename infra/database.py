"""SQLAlchemy engines for the read models: the SQLite file, or Postgres in its own schema."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Dialect, Engine, create_engine, event, exc

from infra.eventstore import ensure_schema, plain_postgres_url

RETURNED_AT = "bitstride.returned_at"
FRESH_SECONDS = 0.25


def read_model_engine(url: str | None, sqlite_path: Path, schema: str,
                      pool_size: int = 10) -> Engine:
    if url:
        ensure_schema(url, schema)
        return _postgres_engine(url, schema, pool_size)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{sqlite_path}",
                           connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def query_engine(url: str | None, read_engine: Engine, schema: str,
                 pool_size: int = 10) -> Engine:
    """The API's list and get reads. On Postgres, a pool of autocommit connections: a page is
    a SELECT, not BEGIN, SELECT and ROLLBACK, and it sees what
    READ COMMITTED would (every statement its own latest snapshot). A read that needs one
    snapshot across statements (reconciliation) opens its own transaction on the read-model
    engine. SQLite has no round trips to save: its reads share the read-model engine."""
    if not url:
        return read_engine
    return _postgres_engine(url, schema, pool_size, isolation_level="AUTOCOMMIT",
                            pool_reset_on_return=None)


def _postgres_engine(url: str, schema: str, pool_size: int, **options: Any) -> Engine:
    """Connections in `schema`, checked before use unless just used, with short waits: while
    the database is down a request fails within seconds (a 503), not after the OS's connect
    timeout."""
    engine = create_engine(
        plain_postgres_url(url).replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=pool_size, max_overflow=30, pool_timeout=3,
        connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 3}, **options)
    event.listen(engine, "checkin", _note_return)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[RETURNED_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pre-ping, skipped for a connection back in the pool for less than
    FRESH_SECONDS: under load that is nearly every checkout, and the ping was a round trip
    per query (about a third of a page's time). A server cannot restart within that window,
    and a connection that died anyway fails its statement, which invalidates the pool and
    answers 503 like any outage. A failed ping makes the pool retry with a new connection."""
    if time.monotonic() - record.info.get(RETURNED_AT, 0.0) < FRESH_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except psycopg.Error as error:
        raise exc.DisconnectionError(str(error)) from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
