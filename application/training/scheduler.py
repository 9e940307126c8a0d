"""The training scheduler: a process manager of the worker, following the Training log.

- On a job's `Created` it re-checks the pinned files (still present, still valid, still the
  pinned version) and records `files_validated` or `files_rejected` (`invalid_file`).
- When a job is queued, or a running job ends, it admits queued jobs in creation order while
  fewer than `capacity` jobs run in all and fewer than `per_organization` in the job's
  organization: `executor.start(...)`, then `TrainingService.start(...)`.
- On `CancelRequested` (a running job is now `cancelling`) it calls `executor.stop(job_id)`.
- On `Succeeded` it registers the output model with its lineage and records the job's usage
  (application/training/completion.py).
- Every `tick` (the runner calls it about once a second) it checks that each running job's
  executor still shows life: a run this process does not know (the worker restarted) is
  re-attached when the executor still has it; a job whose run is gone, or silent for longer
  than `heartbeat_seconds`, fails with `executor_lost`. No job stays `running` forever.

Every effect is idempotent, so a repeat after a crash (the position is tracked only after the
effects) is harmless: each command is decided on the job's current state, a refused
transition (InvalidStateTransitionError) means "already done", executors are idempotent by
job id, and model registration and usage are keyed by the job. Which jobs are unfinished is
read from the aggregates, never from a lagging projection; the candidates are found once by
scanning the log, then kept up to date.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder

from application.shared.scan import created_ids
from application.training.completion import bill
from application.training.launch import executor_job
from application.training.ports import (
    Executor,
    ExecutorRefusedError,
    UsageLedger,
)
from application.training.service import TrainingService
from domain.shared.cause import Cause
from domain.shared.errors import InvalidStateTransitionError, NotFoundError
from domain.training.job import TrainingJob
from domain.training.specs import FineTuningSpec, PinnedFile
from domain.training.status import TERMINAL, JobStatus

log = structlog.get_logger("bitstride.training.scheduler")
SCHEDULER = Cause(actor_id="training-scheduler", actor_kind="system")
CREATED_TOPIC = "bitstride.training.TrainingJob.Created"
# Events after which a slot may be free or a job may be waiting for one. (Looked up by name:
# the event classes are made by `@event` at class creation, unseen by the type checker.)
ADMITTING: tuple[type, ...] = tuple(vars(TrainingJob)[name] for name in (
    "FilesValidated", "Succeeded", "Failed", "Cancelled"))
CANCEL_REQUESTED: type = vars(TrainingJob)["CancelRequested"]
SUCCEEDED: type = vars(TrainingJob)["Succeeded"]
BUSY = frozenset({JobStatus.RUNNING, JobStatus.CANCELLING})


@dataclass(frozen=True)
class Limits:
    capacity: int = 2              # jobs running at once, in all
    per_organization: int = 2      # jobs running at once in one organization
    heartbeat_seconds: float = 60.0  # silence after which a run counts as lost


class TrainingScheduler:
    def __init__(self, training: TrainingService, executor: Executor,
                 recorder: TrackingRecorder, *, limits: Limits,
                 usage: UsageLedger, clock: Callable[[], float] = time.time) -> None:
        self.training, self.executor, self.recorder = training, executor, recorder
        self.limits, self.usage, self.clock = limits, usage, clock
        self._unfinished: set[UUID] | None = None  # job ids not known to be terminal
        self._ticked = False

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        job_id = domain_event.originator_id
        if isinstance(domain_event, TrainingJob.Created):
            self.unfinished().add(job_id)
            self.check_files(job_id)
        elif isinstance(domain_event, CANCEL_REQUESTED):
            self.executor.stop(job_id)
        elif isinstance(domain_event, SUCCEEDED):
            self.bill(job_id)
        if isinstance(domain_event, ADMITTING):
            self.admit()
        self.recorder.insert_tracking(tracking)

    def tick(self) -> None:
        """Liveness of running jobs; and, once after a (re)start, admission."""
        if not self._ticked:
            self._ticked = True
            self.admit()  # jobs queued before a restart wait for no further event
        for job in self._jobs():
            if job.status in BUSY:
                self.check_alive(job)

    # -- files ------------------------------------------------------------------------------

    def check_files(self, job_id: UUID) -> None:
        job = self._job(job_id)
        if job is None or job.status is not JobStatus.VALIDATING_FILES:
            return  # cancelled meanwhile, or already decided before a crash
        problem = self._file_problem(job)
        with contextlib.suppress(InvalidStateTransitionError):  # decided meanwhile
            if problem is None:
                self.training.files_validated(job_id, cause=SCHEDULER)
            else:
                self.training.files_rejected(
                    job_id, error={"code": "invalid_file", "message": problem,
                                   "param": "training_file"},
                    at=self.clock(), cause=SCHEDULER)

    def _file_problem(self, job: TrainingJob) -> str | None:
        pinned = [("training_file", job.spec.training_file)]
        if isinstance(job.spec, FineTuningSpec) and job.spec.validation_file is not None:
            pinned.append(("validation_file", job.spec.validation_file))
        for param, file in pinned:
            problem = self._pinned_problem(job.org_id, file, param)
            if problem is not None:
                return problem
        return None

    def _pinned_problem(self, org_id: UUID, file: PinnedFile, param: str) -> str | None:
        try:
            dataset = self._catalogs()[0].pinned(org_id, file.dataset_id)
        except NotFoundError:
            return f"The dataset in '{param}' no longer exists."
        if dataset.version != file.version:
            return (f"The dataset in '{param}' changed after the job was created (version "
                    f"{dataset.version}, the job pinned {file.version}).")
        if dataset.status != "valid":
            return f"The dataset in '{param}' is {dataset.status}, no longer valid."
        return None

    # -- admission --------------------------------------------------------------------------

    def admit(self) -> None:
        """Start queued jobs, oldest first, within the global and per-organization limits."""
        jobs = self._jobs()
        running = Counter(job.org_id for job in jobs if job.status in BUSY)
        queued = sorted((job for job in jobs if job.status is JobStatus.QUEUED),
                        key=lambda job: (job.created_on, job.id.hex))
        for job in queued:
            if running.total() >= self.limits.capacity:
                return
            if running[job.org_id] < self.limits.per_organization and self.start(job):
                running[job.org_id] += 1

    def start(self, job: TrainingJob) -> bool:
        datasets, models = self._catalogs()
        examples = 1
        with contextlib.suppress(NotFoundError):
            examples = max(datasets.pinned(job.org_id, job.spec.training_file.dataset_id)
                           .examples, 1)
        try:
            run = executor_job(job, models.trainable(job.org_id, job.model), examples)
            executor_id = self.executor.start(run)
        except (NotFoundError, ExecutorRefusedError) as error:
            code, message = (error.code, error.message) if isinstance(
                error, ExecutorRefusedError) else ("model_unavailable", str(error))
            with contextlib.suppress(InvalidStateTransitionError):
                self.training.fail(job.id, seq=None, error={"code": code, "message": message},
                                   at=self.clock(), cause=SCHEDULER)
            return False
        try:
            self.training.start(job.id, executor_id=executor_id, total_steps=run.total_steps,
                                resolved_hyperparameters=run.hyperparameters, at=self.clock(),
                                cause=SCHEDULER)
        except InvalidStateTransitionError:
            self.executor.stop(job.id)  # cancelled between our read and our start
            return False
        return True

    # -- liveness -----------------------------------------------------------------------------

    def check_alive(self, job: TrainingJob) -> None:
        silence = self.executor.heartbeat(job.id)
        if silence is None:
            if self._attach(job):
                return
            # Nobody runs it: give a run elsewhere the heartbeat's grace, counted from the
            # job's last recorded sign of life, then call it lost.
            silence = self.clock() - job.modified_on.timestamp()
        if silence <= self.limits.heartbeat_seconds:
            return
        log.warning("training_executor_lost", job_id=job.id.hex, silent_seconds=round(silence))
        self.executor.stop(job.id)
        with contextlib.suppress(InvalidStateTransitionError):
            self.training.fail(job.id, seq=None, error={
                "code": "executor_lost",
                "message": f"The training run stopped reporting for {silence:.0f} s (its "
                           "worker restarted or the run died); the job cannot continue."},
                at=self.clock(), cause=SCHEDULER)

    def _attach(self, job: TrainingJob) -> bool:
        try:
            model = self._catalogs()[1].trainable(job.org_id, job.model)
        except NotFoundError:
            return False
        return self.executor.attach(executor_job(job, model, 1))

    # -- completion ---------------------------------------------------------------------------

    def bill(self, job_id: UUID) -> None:
        """Usage of a succeeded job (its model was registered as it succeeded)."""
        job = self._job(job_id)
        if job is not None and job.status is JobStatus.SUCCEEDED:
            bill(job, usage=self.usage, cause=SCHEDULER)

    # -- plumbing ---------------------------------------------------------------------------

    def _catalogs(self) -> tuple[Any, Any]:
        if self.training.datasets is None or self.training.models is None:
            raise RuntimeError("The scheduler needs the TrainingService's catalogs.")
        return self.training.datasets, self.training.models

    def _jobs(self) -> list[TrainingJob]:
        """The unfinished jobs, loaded now; finished ones are forgotten on the way."""
        jobs = []
        for job_id in list(self.unfinished()):
            job = self._job(job_id)
            if job is None or job.status in TERMINAL:
                self.unfinished().discard(job_id)
            else:
                jobs.append(job)
        return jobs

    def unfinished(self) -> set[UUID]:
        """Every job created so far that was not seen to finish; found once from the log."""
        if self._unfinished is None:
            self._unfinished = created_ids(self.training, CREATED_TOPIC)
        return self._unfinished

    def _job(self, job_id: UUID) -> TrainingJob | None:
        job = self.training.get_or_none(job_id)
        return job if isinstance(job, TrainingJob) else None
