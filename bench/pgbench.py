"""The raw Postgres ceiling: pgbench (C, one connection per client) running a one-statement
script, so each transaction is a single-row INSERT and its COMMIT."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


def parse_tps(output: str) -> float:
    match = TPS.search(output)
    if match is None:
        raise ValueError(f"no tps line in pgbench's output:\n{output[-2000:]}")
    return float(match.group(1))


def connection_args(url: str) -> list[str]:
    parts = urlsplit(url)
    return ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", unquote(parts.username or "postgres"), unquote(parts.path.lstrip("/"))]


def run(url: str, script: Path, *, seconds: float, clients: int) -> float:
    """Transactions per second at `clients` concurrent connections."""
    command = ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(max(1, round(seconds))),
               "-f", str(script), *connection_args(url)]
    password = urlsplit(url).password
    env = {**os.environ, **({"PGPASSWORD": unquote(password)} if password else {})}
    done = subprocess.run(command, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=seconds + 60, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse_tps(done.stdout)
