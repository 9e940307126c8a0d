"""What a run measures, from BENCH_* environment variables (defaults fit ~5 min on 2 cores)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"bench: {name} must be a number, not {raw!r}") from None


@dataclass(frozen=True)
class BenchConfig:
    seconds: float = 5.0          # BENCH_SECONDS: one round of one side
    rounds: int = 3               # BENCH_ROUNDS: rounds per side, alternated
    concurrency: int = 32         # BENCH_CONCURRENCY: closed-loop clients (wrk, pgbench)
    rate: float = 200.0           # BENCH_RATE: open-loop arrivals per second (gateway)
    job_events: int = 10_000      # BENCH_JOB_EVENTS: events of the job that is loaded
    job_loads: int = 1000         # BENCH_JOB_LOADS: loads timed (the baseline read every 10th)
    dataset_mb: float = 16.0      # BENCH_DATASET_MB: size of the validated JSONL file
    max_tokens: int = 8           # BENCH_MAX_TOKENS: completion length asked of the upstream
    database_url: str = ""        # BENCH_DATABASE_URL: empty starts a private server
    redis_url: str = "redis://127.0.0.1:6379/0"                          # BENCH_REDIS_URL
    note: str = ""                # BENCH_NOTE: a line printed in bold at the top
    output: str = "BENCHMARKS.md"  # BENCH_OUTPUT
    only: str = ""                # BENCH_ONLY: comma-separated pair names, empty for all
    own_worker: str = ""          # BENCH_OWN_WORKER: projections given a worker of their own

    @classmethod
    def from_env(cls) -> BenchConfig:
        values: dict[str, object] = {}
        for item in fields(cls):
            name = f"BENCH_{item.name.upper()}"
            if name not in os.environ:
                continue
            if item.type in ("int", "float"):
                number = _number(name, 0.0)
                values[item.name] = int(number) if item.type == "int" else number
            else:
                values[item.name] = os.environ[name]
        return cls(**values)  # type: ignore[arg-type]

    def settings(self) -> list[tuple[str, str]]:
        """The knobs that shape the figures, for the report."""
        return [("BENCH_SECONDS", f"{self.seconds:g}"), ("BENCH_ROUNDS", str(self.rounds)),
                ("BENCH_CONCURRENCY", str(self.concurrency)), ("BENCH_RATE", f"{self.rate:g}"),
                ("BENCH_JOB_EVENTS", str(self.job_events)),
                ("BENCH_DATASET_MB", f"{self.dataset_mb:g}"),
                ("BENCH_MAX_TOKENS", str(self.max_tokens)),
                *([("BENCH_OWN_WORKER", self.own_worker)] if self.own_worker else [])]

    def wants(self, pair: str) -> bool:
        chosen = {name.strip() for name in self.only.split(",") if name.strip()}
        return not chosen or pair in chosen
