"""Closed-loop HTTP load with wrk (C, epoll, keep-alive): N clients, each sends its next request
when the previous answer arrives. The figures come from load.lua's done() line. In a body,
"{run}" becomes a value unique to the run and "{uniq}" one unique to the request in it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("load.lua")
MARKER = "BENCH_JSON "
THREADS = 2  # wrk's own threads: one per core here; more would compete with the server


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # non-2xx/3xx answers plus socket errors and timeouts
    p50_ms: float
    p99_ms: float
    failed_statuses: dict[int, int] = field(default_factory=dict)  # status: count, >= 400

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def parse(output: str) -> WrkResult:
    """The result from wrk's output: the BENCH_JSON line that load.lua's done() prints."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            errors = sum(data[key] for key in ("non_2xx", "connect", "read", "write", "timeout"))
            return WrkResult(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                             errors=errors, p50_ms=data["p50_us"] / 1e3,
                             p99_ms=data["p99_us"] / 1e3,
                             failed_statuses=dict(Counter(
                                 int(s) for s in data["failed_statuses"].split(",") if s)))
    raise ValueError(f"no {MARKER.strip()} line in wrk's output:\n{output[-2000:]}")


def run(base_url: str, method: str, path: str, *, token: str = "", body: str | None = None,
        seconds: float, concurrency: int) -> WrkResult:
    command = ["wrk", f"-t{min(THREADS, concurrency)}", f"-c{concurrency}",
               f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(SCRIPT), base_url,
               "--", method, path, token]
    if body is not None:
        command.append(body.replace("{run}", uuid.uuid4().hex[:8]))
    done = subprocess.run(command, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse(done.stdout)
