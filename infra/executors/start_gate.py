"""Reports wait for the recorded start.

The scheduler calls `executor.start(...)` first and records `TrainingService.start(...)` only
once it returns, so a run can report before its job is `running`; a queued job refuses
reports, and a report refused is lost. Every executor therefore holds a run's reports back
until the job shows its start, and drops the run when the start will never come.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

from application.training.service import TrainingService
from domain.training.job import TrainingJob
from domain.training.status import TERMINAL, JobStatus

START_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.02
STARTED = frozenset({JobStatus.RUNNING, JobStatus.CANCELLING})


def recorded_start(training: TrainingService, job_id: UUID, *,
                   stop: threading.Event | None = None,
                   timeout: float = START_WAIT_SECONDS) -> TrainingJob | None:
    """The job once its start is recorded; None if it never will be: the job is gone or
    finished (cancelled while queued), `stop` is set, or `timeout` passes while it is still
    queued (the scheduler could not record the start; it starts the job again later)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        job = training.get_or_none(job_id)
        if not isinstance(job, TrainingJob) or job.status in TERMINAL:
            return None
        if job.status in STARTED:
            return job
        if time.monotonic() > deadline or stop.wait(POLL_SECONDS):
            return None
