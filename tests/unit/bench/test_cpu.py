"""bench/cpu.py: CPU time by process tree, from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.cpu import snapshot, used
from bench.gateway import GATEWAY, WRITER, Processes

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")

SPIN = "end = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
# Each waits for a line, spins 0.3 s of CPU, says "done" and waits to be told to exit.
CHILD = "import sys, time\nprint('ready', flush=True)\nsys.stdin.readline()\n" + SPIN + \
    "print('done', flush=True)\nsys.stdin.readline()\n"
PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {CHILD!r}], stdin=subprocess.PIPE,"
    " stdout=subprocess.PIPE)\n"
    "child.stdout.readline()\nprint('ready', flush=True)\nsys.stdin.readline()\n"
    "child.stdin.write(b'go\\n')\nchild.stdin.flush()\n" + SPIN +
    "child.stdout.readline()\nprint('done', flush=True)\nsys.stdin.readline()\n"
    "child.stdin.close()\nchild.wait()\n")


def test_a_group_counts_what_its_descendants_used() -> None:
    """A process and the child it started each spin 0.3 s of CPU: the group used both."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert parent.stdin is not None and parent.stdout is not None
    try:
        assert parent.stdout.readline() == "ready\n"
        before = snapshot({"spinners": [parent.pid], "nobody": [2**22 + 7]})
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == "done\n"
        after = snapshot({"spinners": [parent.pid], "nobody": [2**22 + 7]})
        parent.stdin.write("exit\n")
        parent.stdin.flush()
        parent.wait(30)
    finally:
        parent.kill()
    assert len(before["spinners"]) == len(after["spinners"]) == 2 and after["nobody"] == {}
    assert 0.5 <= used(before, after)["spinners"] <= 5.0


def test_cpu_used_between_snapshots_is_the_work_done() -> None:
    me = {"me": [os.getpid()]}
    before = snapshot(me)
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    spent = used(before, snapshot(me))["me"]
    assert 0.15 <= spent <= 2.0


def test_a_process_started_between_snapshots_counts_from_zero() -> None:
    before = {"g": {1: 5.0}}
    after = {"g": {1: 5.5, 2: 0.25}}
    assert used(before, after) == {"g": 0.75}


def test_the_gateway_pair_splits_the_gateway_from_its_usage_writer() -> None:
    processes = Processes(groups={GATEWAY: [10], "worker": [20]})
    before = {GATEWAY: {10: 1.0, 11: 2.0}, "worker": {20: 0.5}}
    after = {GATEWAY: {10: 1.2, 11: 2.1}, "worker": {20: 0.55}}
    per_request = processes.per_request(before, after, requests=100)
    assert per_request == pytest.approx({GATEWAY: 2000.0, WRITER: 1000.0, "worker": 500.0})
    assert list(per_request) == [GATEWAY, WRITER, "worker"]
