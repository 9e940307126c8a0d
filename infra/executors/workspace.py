"""A local training run's directory: its inputs, its job file, its reports and its process.

`<work dir>/<job id>/` holds `training.jsonl` (and `validation.jsonl`, `base.npz`), `job.json`
(what the trainer reads), `stdout` (the trainer's reports: one JSON line each), `stderr` (its
log), `out/` (checkpoints and weights) and `pid`. Everything a restarted worker needs to
re-attach is on disk here, not in the worker's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.processes import CHUNK, ProcessDir


class Workspace(ProcessDir):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.job_file = root / "job.json"
        self.progress = self.stdout
        self.log = self.stderr
        self.output = root / "out"

    def prepare(self) -> None:
        super().prepare()
        self.output.mkdir()

    def write_job(self, job: Mapping[str, Any]) -> None:
        self.job_file.write_text(json.dumps(job, indent=2))

    def exists(self) -> bool:
        return self.job_file.exists() and self.progress.exists()


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes in chunks, for ObjectStore.put_stream."""
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk
