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


class AdvisoryLock:
    """A Postgres session-level advisory lock, held on its own connection while running."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = plain_postgres_url(url), name
        self.key = zlib.crc32(f"bitstride-runner:{name}".encode())
        self._conn: psycopg.Connection | None = None

    def acquire(self, stop: threading.Event) -> bool:
        conn = psycopg.connect(self.url, autocommit=True)
        announced = False
        while not stop.is_set():
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]:
                self._conn = conn
                return True
            if not announced:
                log.info("runner_waiting_for_lock", projection=self.name)
                announced = True
            stop.wait(RETRY_SECONDS)
        conn.close()
        return False

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

    def acquire(self, stop: threading.Event) -> bool:
        handle = self.path.open("a")
        announced = False
        while not stop.is_set():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not announced:
                    log.info("runner_waiting_for_lock", projection=self.name)
                    announced = True
                stop.wait(RETRY_SECONDS)
                continue
            self._file = handle
            return True
        handle.close()
        return False

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
