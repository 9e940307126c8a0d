"""The training scheduler: a process manager of the worker, following the Training log.

- On a job's `Created` it re-checks the pinned files (still present, still valid, still the
  pinned version) and records `files_validated` or `files_rejected` (`invalid_file`).
- When a job is queued, or a running job ends, it admits queued jobs in creation order while
  fewer than `capacity` jobs are running (across all organizations): `executor.start(...)`,
  then `TrainingService.start(...)`.
- On `CancelRequested` (a running job is now `cancelling`) it calls `executor.stop(job_id)`.

Every effect is idempotent, so a repeat after a crash (the position is tracked only after the
effects) is harmless: each command is decided on the job's current state, a refused
transition (InvalidStateTransitionError) means "already done", and executors are idempotent
by job id. Which jobs are unfinished is read from the aggregates, never from a lagging
projection; the candidates are found once by scanning the log, then kept up to date.

Not yet here (issue 5 §3): a per-organization limit, re-attaching or failing with
`executor_lost` the jobs that were running when the worker died, model registration and usage.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder

from application.training.ports import Executor, ExecutorJob
from application.training.service import TrainingService
from domain.shared.cause import Cause
from domain.shared.errors import InvalidStateTransitionError, NotFoundError
from domain.training.job import TrainingJob
from domain.training.specs import FineTuningSpec, PinnedFile
from domain.training.status import TERMINAL, JobStatus

SCHEDULER = Cause(actor_id="training-scheduler", actor_kind="system")
CREATED_TOPIC = "bitstride.training.TrainingJob.Created"
SCAN_PAGE = 1000
# Events after which a slot may be free or a job may be waiting for one. (Looked up by name:
# the event classes are made by `@event` at class creation, unseen by the type checker.)
ADMITTING: tuple[type, ...] = tuple(vars(TrainingJob)[name] for name in (
    "FilesValidated", "Succeeded", "Failed", "Cancelled"))
CANCEL_REQUESTED: type = vars(TrainingJob)["CancelRequested"]
BUSY = frozenset({JobStatus.RUNNING, JobStatus.CANCELLING})


def total_steps(examples: int, hyperparameters: dict[str, int | float]) -> int:
    """Optimizer steps for `examples` trained `n_epochs` times in batches of `batch_size`."""
    epochs = int(hyperparameters.get("n_epochs", 1))
    batch = max(int(hyperparameters.get("batch_size", 1)), 1)
    return max(math.ceil(examples * epochs / batch), 1)


class TrainingScheduler:
    def __init__(self, training: TrainingService, executor: Executor,
                 recorder: TrackingRecorder, *, capacity: int) -> None:
        self.training, self.executor, self.recorder = training, executor, recorder
        self.capacity = capacity
        self._unfinished: set[UUID] | None = None  # job ids not known to be terminal

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, TrainingJob.Created):
            self.unfinished().add(domain_event.originator_id)
            self.check_files(domain_event.originator_id)
        elif isinstance(domain_event, CANCEL_REQUESTED):
            cancelled: Any = domain_event
            self.executor.stop(cancelled.originator_id)
        if isinstance(domain_event, ADMITTING):
            self.admit()
        self.recorder.insert_tracking(tracking)

    # -- files ------------------------------------------------------------------------------

    def check_files(self, job_id: UUID) -> None:
        job = self._job(job_id)
        if job is None or job.status is not JobStatus.VALIDATING_FILES:
            return  # cancelled meanwhile, or already decided before a crash
        problem = self._file_problem(job)
        try:
            if problem is None:
                self.training.files_validated(job_id, cause=SCHEDULER)
            else:
                self.training.files_rejected(
                    job_id, error={"code": "invalid_file", "message": problem,
                                   "param": "training_file"},
                    at=time.time(), cause=SCHEDULER)
        except InvalidStateTransitionError:
            pass  # decided (or cancelled) between our read and our write

    def _file_problem(self, job: TrainingJob) -> str | None:
        catalog = self.training.datasets
        if catalog is None:
            raise RuntimeError("The scheduler needs the TrainingService's dataset catalog.")
        pinned = [("training_file", job.spec.training_file)]
        if isinstance(job.spec, FineTuningSpec) and job.spec.validation_file is not None:
            pinned.append(("validation_file", job.spec.validation_file))
        for param, file in pinned:
            problem = self._pinned_problem(catalog.pinned, job.org_id, file, param)
            if problem is not None:
                return problem
        return None

    @staticmethod
    def _pinned_problem(pinned: Any, org_id: UUID, file: PinnedFile, param: str) -> str | None:
        try:
            dataset = pinned(org_id, file.dataset_id)
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
        """Start queued jobs, oldest first, while fewer than `capacity` are running."""
        jobs = []
        for job_id in list(self.unfinished()):
            job = self._job(job_id)
            if job is None or job.status in TERMINAL:
                self.unfinished().discard(job_id)
            else:
                jobs.append(job)
        running = sum(1 for job in jobs if job.status in BUSY)
        queued = sorted((job for job in jobs if job.status is JobStatus.QUEUED),
                        key=lambda job: (job.created_on, job.id.hex))
        for job in queued:
            if running >= self.capacity:
                return
            if self.start(job):
                running += 1

    def start(self, job: TrainingJob) -> bool:
        catalog = self.training.datasets
        examples = 1
        if catalog is not None:
            with contextlib.suppress(NotFoundError):
                examples = max(catalog.pinned(job.org_id, job.spec.training_file.dataset_id)
                               .examples, 1)
        hyperparameters = dict(job.hyperparameters)
        steps = total_steps(examples, hyperparameters)
        file = job.spec.training_file
        executor_id = self.executor.start(ExecutorJob(
            job_id=job.id, org_id=job.org_id, kind=job.kind, model=job.model,
            training_file=(file.dataset_id, file.version), hyperparameters=hyperparameters,
            seed=job.seed, total_steps=steps))
        try:
            self.training.start(job.id, executor_id=executor_id, total_steps=steps,
                                resolved_hyperparameters=hyperparameters, at=time.time(),
                                cause=SCHEDULER)
        except InvalidStateTransitionError:
            self.executor.stop(job.id)  # cancelled between our read and our start
            return False
        return True

    # -- plumbing ---------------------------------------------------------------------------

    def unfinished(self) -> set[UUID]:
        """Every job created so far that was not seen to finish; found once from the log."""
        if self._unfinished is None:
            found: set[UUID] = set()
            start = 1
            while True:
                page = self.training.recorder.select_notifications(
                    start, SCAN_PAGE, topics=[CREATED_TOPIC])
                found.update(UUID(str(notification.originator_id)) for notification in page)
                if len(page) < SCAN_PAGE:
                    break
                start = page[-1].id + 1
            self._unfinished = found
        return self._unfinished

    def _job(self, job_id: UUID) -> TrainingJob | None:
        job = self.training.get_or_none(job_id)
        return job if isinstance(job, TrainingJob) else None
