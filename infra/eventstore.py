"""Maps Bitstride settings onto eventsourcing's persistence environment."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from infra.settings import SettingsError

POSTGRES_CHAINED = "infra.chain.postgres:ChainedPostgresApplicationRecorder"
SQLITE_CHAINED = "infra.chain.sqlite:ChainedSQLiteApplicationRecorder"


def is_postgres(url: str | None) -> bool:
    schemes = ("postgres", "postgresql", "postgresql+psycopg")
    return bool(url) and urlsplit(url or "").scheme in schemes


def postgres_env(url: str, schema: str) -> dict[str, str]:
    """eventsourcing.postgres settings for a `postgresql://user:pass@host:port/db` URL."""
    parts = urlsplit(url)
    if not parts.hostname or not parts.path.strip("/"):
        raise SettingsError(f"database URL must name a host and a database: {redact(url)}")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # Every append also extends the log's hash chain (infra/chain, `bitstride audit verify`).
        "APPLICATION_RECORDER_TOPIC": POSTGRES_CHAINED,
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        # Never wait forever for the append lock: a stuck writer becomes a 503, not a hang.
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Waiting for a pooled connection (eventsourcing's default is 30 s): while the
        # database is down a request becomes a 503 this soon, not a hang.
        "POSTGRES_CONNECT_TIMEOUT": "3",
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "20",
        "POSTGRES_PRE_PING": "y",
    }


def sqlite_env(path: Path) -> dict[str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": SQLITE_CHAINED,
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def eventstore_env(url: str | None, sqlite_path: Path, schema: str) -> dict[str, str]:
    """Postgres when a URL is given, otherwise the embedded SQLite file."""
    if url:
        if not is_postgres(url):
            raise SettingsError(f"only postgresql:// database URLs are supported: {redact(url)}")
        ensure_schema(url, schema)
        return postgres_env(url, schema)
    return sqlite_env(sqlite_path)


def ensure_schema(url: str, schema: str) -> None:
    """eventsourcing creates tables but not schemas; create ours if missing."""
    # Another process may create it at the same moment: IF NOT EXISTS can still race.
    with psycopg.connect(plain_postgres_url(url), autocommit=True) as conn, \
            contextlib.suppress(psycopg.errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


SETUP_LOCK_KEY = zlib.crc32(b"bitstride:schema-setup")
_setup_locks_held: set[str] = set()  # URLs whose setup lock this process holds


@contextmanager
def setup_lock(url: str | None) -> Iterator[None]:
    """Processes that start together take turns creating their tables.

    `CREATE TABLE IF NOT EXISTS` is not safe to race in Postgres: two sessions creating one
    table can fail with a unique violation on `pg_type` or "tuple concurrently updated", so a
    worker and an API started at once on an empty database could crash. A session-level
    advisory lock serialises the set-up; re-entering it in the same process is a no-op."""
    if not is_postgres(url) or url in _setup_locks_held:
        yield
        return
    assert url is not None
    with psycopg.connect(plain_postgres_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
        _setup_locks_held.add(url)
        try:
            yield
        finally:
            _setup_locks_held.discard(url)


def plain_postgres_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def redact(url: str) -> str:
    """A URL safe for logs and error messages: the password replaced."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
