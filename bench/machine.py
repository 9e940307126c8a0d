"""The machine a run measured: cores, CPU, memory, Python, Postgres and Redis versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psycopg
import redis


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def describe(database_url: str, redis_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    info = redis.Redis.from_url(redis_url).info("server")
    return [("Cores", str(os.cpu_count())), ("CPU", _cpu_model()), ("RAM", _memory()),
            ("OS", f"{platform.system()} {platform.release()}"),
            ("Python", platform.python_version()),
            ("PostgreSQL", str(row[0]) if row else "unknown"),
            ("Redis", str(info.get("redis_version", "unknown")))]
