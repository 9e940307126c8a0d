"""Runner locks: one active runner per projection, a second one waits."""

from __future__ import annotations

import fcntl
import threading
import zlib
from pathlib import Path
from typing import IO

import psycopg
import structlog

from infra.eventstore import plain_postgres_url

log = structlog.get_logger("bitstride.locks")
RETRY_SECONDS = 1.0


def _acquire_until_stopped(lock: AdvisoryLock | FileLock, stop: threading.Event) -> bool:
    """Try now, then once a second until `stop`; say once that we are waiting."""
    announced = False
    while not stop.is_set():
        if lock.try_acquire():
            return True
        if not announced:
            log.info("runner_waiting_for_lock", projection=lock.name)
            announced = True
        stop.wait(RETRY_SECONDS)
    return False


class AdvisoryLock:
    """A Postgres session-level advisory lock, held on its own connection while running.

    Advisory locks are database-wide, so the key includes the schema the runner writes to:
    deployments in other schemas of one database never block each other.
    """

    def __init__(self, url: str, name: str, *, scope: str = "") -> None:
        self.url, self.name = plain_postgres_url(url), name
        self.key = zlib.crc32(f"bitstride-runner:{scope}:{name}".encode())
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        conn = psycopg.connect(self.url, autocommit=True)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is not None and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def acquire(self, stop: threading.Event) -> bool:
        return _acquire_until_stopped(self, stop)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # closing the session releases the lock
            self._conn = None


class FileLock:
    """An exclusive flock beside the SQLite database, for the embedded single-host mode."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path, self.name = directory / f"{name}.lock", name
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def acquire(self, stop: threading.Event) -> bool:
        return _acquire_until_stopped(self, stop)

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
