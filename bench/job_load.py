"""Pair 5: a training job with 10,000 events, loaded with the application's repository.get,
against reading its stored events without decoding them."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID, uuid4

from bench.context import BenchContext
from bench.report import Row, Section, Target
from bench.stats import percentile
from domain.shared.cause import SYSTEM
from domain.training.job import SNAPSHOT_INTERVAL, TrainingJob
from domain.training.specs import PinnedFile, fine_tuning_spec

TITLE = "5. Job load"
SAVE_EVERY = 1000
READ_EVERY = 10  # the baseline reads all the stored events: 60-80 ms each
METHOD = """
A fine-tuning job is created, queued and started, then given progress reports (one
`ProgressReported` event each, as an executor sends them) until its stream holds {events:,}
events, saved {save:,} at a time through `TrainingService.save` on Postgres. Then, {loads:,}
times, `TrainingService.repository.get(job_id)` loads it (no cache, as configured) and, just
before every {every}th load, `recorder.select_events(job_id)` reads the same stored events
without decoding or applying them: the baseline. p50 and p99 over the loads (over 100 loads
the p99 was the second slowest, one scheduling hiccup away from the target). The application
snapshots a job every {interval} events, so the head is one snapshot away; the worst case,
loading version {worst:,} (a snapshot and the {tail} events after it), is measured too.
"""


def build_job(training: Any, events: int) -> UUID:
    """A job whose stream holds `events` events (at least 4)."""
    spec = fine_tuning_spec(method="supervised", hyperparameters={},
                            training_file=PinnedFile(uuid4(), 1), validation_file=None,
                            suffix="bench", examples=1000)
    job = TrainingJob.create(org_id=uuid4(), project_id=None, model="bench-base", spec=spec,
                             seed=7, metadata={}, request_fingerprint="bench", cause=SYSTEM)
    job.files_validated(cause=SYSTEM)
    job.start(executor_id="bench", total_steps=events,
              resolved_hyperparameters=job.spec.resolved_hyperparameters, at=time.time(),
              cause=SYSTEM)
    for seq in range(1, events - 2):
        job.report(seq=seq, step=seq, metrics={"train_loss": 1.0 / seq}, at=time.time(),
                   cause=SYSTEM)
        if seq % SAVE_EVERY == 0:
            training.save(job)
    training.save(job)
    return job.id


def _timed_ms(action: Any) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def run(context: BenchContext, plane: Any) -> Section:
    config = context.config
    training = plane.training
    job_id = build_job(training, config.job_events)
    loaded = training.repository.get(job_id)
    if loaded.version != config.job_events:
        raise RuntimeError(f"the job has {loaded.version} events, not {config.job_events}")
    worst = config.job_events - 1 if config.job_events % SNAPSHOT_INTERVAL == 0 \
        else config.job_events
    loads, worst_loads, reads = [], [], []
    for count in range(config.job_loads):
        if count % READ_EVERY == 0:
            reads.append(_timed_ms(lambda: training.recorder.select_events(job_id)))
        loads.append(_timed_ms(lambda: training.repository.get(job_id)))
        worst_loads.append(_timed_ms(lambda: training.repository.get(job_id, version=worst)))
    rows = [Row(TITLE, f"load a {config.job_events:,}-event job{label}, p{q}", "ms",
                percentile(times, q), percentile(reads, q), "read stored events only",
                Target("at_most", 5.0), compare="added")
            for label, times in (("", loads), (f" at version {worst:,}", worst_loads))
            for q in (50, 99)]
    return Section(TITLE, METHOD.format(events=config.job_events, save=SAVE_EVERY,
                                        loads=config.job_loads, every=READ_EVERY,
                                        interval=SNAPSHOT_INTERVAL,
                                        worst=worst, tail=worst % SNAPSHOT_INTERVAL), rows)
