"""What every pair gets from the runner: the settings, the running deployment and its key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.config import BenchConfig
from bench.deployment import Deployment


@dataclass
class BenchContext:
    config: BenchConfig
    workdir: Path
    deployment: Deployment
    api_url: str
    api_key: str  # a key with every scope, of the organization all the writes go to
    postgres_pid: int | None = None  # the private server's postmaster (None: a shared server)
