"""A long-lived child process kept findable on disk, so a restarted worker can find it again.

A process directory holds the process's `pid`, its stdout and stderr. The process runs in a
session of its own (a worker killed with `kill -9` does not take it along) with the directory
as its working directory, which is how `pid()` tells it from an unrelated process that was
given a recycled pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class ProcessDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stdout = root / "stdout"
        self.stderr = root / "stderr"
        self.pid_file = root / "pid"

    def prepare(self) -> None:
        """A clean directory: leftovers of a launch that never happened are dropped."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)

    def launch(self, command: Sequence[str]) -> subprocess.Popen[bytes]:
        with self.stdout.open("wb") as stdout, self.stderr.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 - our own programs, no shell
                list(command), stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                cwd=self.root, start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        return process

    def pid(self) -> int | None:
        """The process's pid while it is alive and is this directory's process."""
        try:
            pid = int(self.pid_file.read_text())
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except (OSError, ValueError):
            return None  # no pid yet, no such process, or a zombie (its cwd is gone)
        return pid if Path(cwd) == self.root.resolve() else None

    def signal(self, signum: signal.Signals) -> bool:
        """Signal the process group (the process leads its own session)."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return False
        return True

    def exists(self) -> bool:
        return self.pid_file.exists()

    def copy_in(self, name: str, source: BinaryIO) -> Path:
        """Write an input file (a dataset, weights) into the directory from a stream."""
        target = self.root / name
        with source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def last_line(self, limit: int = 300) -> str:
        """The last line of stderr, for an operator's error message."""
        try:
            lines = self.stderr.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no output)"
        return lines[-1][:limit] if lines else "(no output)"
