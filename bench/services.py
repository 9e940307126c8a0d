"""Postgres, Redis and wrk: started or installed when missing, the way .ci/run does it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

WAIT_SECONDS = 30.0


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _await(port: int, name: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not answers(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {name} does not answer on 127.0.0.1:{port}")
        time.sleep(0.5)


def _run(*command: str) -> None:
    subprocess.run(command, check=False)  # noqa: S603 (fixed commands, no shell)


def ensure_services(*, postgres: bool) -> None:
    if postgres and not answers(5432):
        print("bench: starting PostgreSQL")
        clusters = sorted(p.name for p in Path("/etc/postgresql").iterdir())
        _run("pg_ctlcluster", "--skip-systemctl-redirect", clusters[0], "main", "start")
    if postgres:
        _await(5432, "PostgreSQL")
    if not answers(6379):
        print("bench: starting Redis")
        _run("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
             "6379", "--save", "", "--appendonly", "no", "--dir", "/tmp",  # noqa: S108 (as .ci/run)
             "--logfile", "/tmp/bitstride-bench-redis.log")  # noqa: S108
    _await(6379, "Redis")


def ensure_tools() -> None:
    """wrk (closed-loop HTTP load) and pgbench (the raw Postgres ceiling) are Debian packages."""
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if "wrk" in missing:
        print("bench: installing wrk")
        _run("apt-get", "install", "-y", "-qq", "wrk")
    for tool in missing:
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: `{tool}` is missing (apt-get install {tool})")
