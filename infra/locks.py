"""Runner locks: one active runner per projection, a second one waits."""

from __future__ import annotations

import fcntl
import threading
import time
import zlib
from pathlib import Path
from typing import IO

import psycopg
import structlog

from infra.eventstore import plain_postgres_url

log = structlog.get_logger("bitstride.locks")
RETRY_SECONDS = 1.0
SESSION_CHECK_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 3


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

    A database restart ends the session and with it every lock it held, silently: `holds`
    checks the session (at most once a second, one `SELECT 1` for all runners) and each new
    session has a new epoch, so a runner holding a lock of a lost session learns it lost it.
    """

    _sessions: dict[str, _LockSession] = {}
    _registry = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        self.mutex = threading.Lock()
        self.held: set[int] = set()
        self.conn: psycopg.Connection | None = None
        self.epoch = 0
        self._checked = 0.0

    @classmethod
    def for_url(cls, url: str) -> _LockSession:
        with cls._registry:
            return cls._sessions.setdefault(url, cls(url))

    def try_lock(self, key: int) -> int | None:
        """The session's epoch when the lock is taken now, else None."""
        with self.mutex:
            if key in self.held:
                return None
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(self.url, autocommit=True,
                                                connect_timeout=CONNECT_TIMEOUT_SECONDS)
                    self.epoch, self._checked = self.epoch + 1, time.monotonic()
                row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            except psycopg.Error as error:  # the database is down: try again later
                self._lose(error)
                return None
            if row is None or not row[0]:
                self._close_if_idle()
                return None
            self.held.add(key)
            return self.epoch

    def holds(self, key: int, epoch: int) -> bool:
        with self.mutex:
            if epoch != self.epoch or key not in self.held or self.conn is None:
                return False
            if time.monotonic() - self._checked >= SESSION_CHECK_SECONDS:
                try:
                    self.conn.execute("SELECT 1")
                except psycopg.Error as error:
                    self._lose(error)
                    return False
                self._checked = time.monotonic()
            return True

    def _lose(self, error: psycopg.Error) -> None:
        """The session is gone, and its locks with it."""
        if self.held:
            log.warning("runner_locks_lost", locks=len(self.held),
                        error_class=type(error).__name__)
        self.held.clear()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def unlock(self, key: int, epoch: int) -> None:
        with self.mutex:
            if epoch != self.epoch or key not in self.held:
                return  # taken on a lost session: released with it
            self.held.discard(key)
            if self.conn is not None and not self.conn.closed:
                try:
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except psycopg.Error as error:
                    self._lose(error)
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
        self._epoch: int | None = None

    def try_acquire(self) -> bool:
        self._epoch = self._session.try_lock(self.key)
        return self._epoch is not None

    def acquire(self, stop: threading.Event) -> bool:
        return _acquire_until_stopped(self, stop)

    def held(self) -> bool:
        return self._epoch is not None and self._session.holds(self.key, self._epoch)

    def release(self) -> None:
        if self._epoch is not None:
            self._session.unlock(self.key, self._epoch)
            self._epoch = None


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

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
