"""A job snapshot written by one process (the worker) must load in another (the API)."""

from __future__ import annotations

import subprocess
import sys

from eventsourcing.utils import get_topic

from domain.training.job import TrainingJob


def test_a_fresh_process_resolves_the_snapshot_topic() -> None:
    # In this test process an earlier snapshot write may have registered the topic already,
    # which hid the bug once; a fresh interpreter has only what importing the domain does.
    code = ("import domain.training.job\n"
            "from eventsourcing.utils import resolve_topic\n"
            f"print(resolve_topic({get_topic(TrainingJob.Snapshot)!r}).__qualname__)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=False, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "TrainingJob.Snapshot"
