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


class _LockSession:
    """One Postgres connection holding every advisory lock this process holds on a database.

    A connection per lock cost a worker one idle connection per runner (about twenty); one
    session holds them all. Session locks are re-entrant, so the keys held here are tracked
    and a second holder in this process is refused, exactly as another process would be.
    The connection closes when its last lock is released.
    """

    _sessions: dict[str, _LockSession] = {}
    _registry = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        self.mutex = threading.Lock()
        self.held: set[int] = set()
        self.conn: psycopg.Connection | None = None

    @classmethod
    def for_url(cls, url: str) -> _LockSession:
        with cls._registry:
            return cls._sessions.setdefault(url, cls(url))

    def try_lock(self, key: int) -> bool:
        with self.mutex:
            if key in self.held:
                return False
            if self.conn is None or self.conn.closed:
                self.conn, self.held = psycopg.connect(self.url, autocommit=True), set()
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is None or not row[0]:
                self._close_if_idle()
                return False
            self.held.add(key)
            return True

    def unlock(self, key: int) -> None:
        with self.mutex:
            if key not in self.held:
                return
            self.held.discard(key)
            if self.conn is not None and not self.conn.closed:
                try:
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except psycopg.Error:
                    self.conn.close()  # a lost session has released its locks anyway
            self._close_if_idle()

    def _close_if_idle(self) -> None:
        if not self.held and self.conn is not None:
            self.conn.close()
            self.conn = None


class AdvisoryLock:
    """A Postgres session-level advisory lock, held on the process's lock session.

    Advisory locks are database-wide, so the key includes the schema the runner writes to:
    deployments in other schemas of one database never block each other.
    """

    def __init__(self, url: str, name: str, *, scope: str = "") -> None:
        self.url, self.name = plain_postgres_url(url), name
        self.key = zlib.crc32(f"bitstride-runner:{scope}:{name}".encode())
        self._session = _LockSession.for_url(self.url)
        self._held = False

    def try_acquire(self) -> bool:
        self._held = self._session.try_lock(self.key)
        return self._held

    def acquire(self, stop: threading.Event) -> bool:
        return _acquire_until_stopped(self, stop)

    def release(self) -> None:
        if self._held:
            self._session.unlock(self.key)
            self._held = False


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
