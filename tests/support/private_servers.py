"""Postgres and Redis servers of a test's own, to stop and restart without touching the shared
ones on 5432 and 6379 that other tests use. Each runs on a free port, in a temporary
directory removed afterwards; a restart keeps the port and the data."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from bench.private_postgres import PrivatePostgres
from bench.processes import free_port

START_SECONDS = 15.0


def _unavailable(what: str) -> None:
    """Missing server binaries skip visibly; in CI they fail the run."""
    message = f"{what} is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: required)")
    pytest.skip(message)


@contextmanager
def _workdir() -> Iterator[Path]:
    """Outside pytest's tmp tree: Postgres runs as the `postgres` user, who cannot enter a
    root-only directory."""
    directory = Path(tempfile.mkdtemp(prefix="bitstride-private-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class RestartablePostgres(PrivatePostgres):
    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def restart(self, mode: str = "fast") -> None:
        """Stop (`fast` ends every session; `immediate` crashes) and start on the same port."""
        self.stop(mode)
        self.launch()


@pytest.fixture
def private_pg() -> Iterator[RestartablePostgres]:
    """A Postgres server of the test's own (import the fixture where it is used)."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _unavailable("PostgreSQL (initdb under /usr/lib/postgresql)")
    with _workdir() as directory:
        server = RestartablePostgres(directory)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # a test left it stopped
                server.stop("immediate")


class PrivateRedis:
    """`redis-server` in the foreground with no persistence: `stop` loses nothing it needs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            assert self.process.poll() is None, f"redis-server exited {self.process.returncode}"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.02)

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of the test's own (import the fixture where it is used)."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
