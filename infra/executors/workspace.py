"""A local run's directory: its inputs, its job file, its output, and its process.

`<work dir>/<job id>/` holds `training.jsonl` (and `validation.jsonl`, `base.npz`), `job.json`
(what the trainer reads), `progress.jsonl` (the trainer's stdout: one JSON line per report),
`trainer.log` (its stderr), `out/` (checkpoints and weights) and `pid`. Everything a
restarted worker needs to re-attach is on disk here, not in the worker's memory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1024 * 1024


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.job_file = root / "job.json"
        self.progress = root / "progress.jsonl"
        self.log = root / "trainer.log"
        self.output = root / "out"
        self.pid_file = root / "pid"

    def prepare(self) -> None:
        """A clean directory: leftovers of a start that never launched are dropped."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.output.mkdir(parents=True)

    def copy_in(self, name: str, source: BinaryIO) -> Path:
        target = self.root / name
        with source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
        return target

    def write_job(self, job: Mapping[str, Any]) -> None:
        self.job_file.write_text(json.dumps(job, indent=2))

    def record_pid(self, pid: int) -> None:
        self.pid_file.write_text(str(pid))

    def pid(self) -> int | None:
        """The trainer's pid while that process is alive and is this run's trainer."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        # A recycled pid runs something else: only a process reading our job file is ours.
        return pid if str(self.job_file).encode() in cmdline else None

    def signal(self, signum: signal.Signals) -> bool:
        """Signal the trainer's process group (it runs in a session of its own)."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return False
        return True

    def exists(self) -> bool:
        return self.job_file.exists() and self.progress.exists()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def file_chunks(path: Path) -> Any:
    """The file's bytes in chunks, for ObjectStore.put_stream."""
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk
