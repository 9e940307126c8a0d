"""TrainingJob: a fine-tuning or RL job whose state is exactly what replaying its events gives.

Executor reports carry a sequence number `seq` (1, 2, 3, ... per job). A report whose `seq` is
not above the last applied one is a duplicate or arrived out of order: it is ignored, records
no event and raises nothing. Any executor report arriving after a terminal state is late news
and is ignored the same way. Only a report that is fresh but impossible (progress before the
job started, a step going backwards) is refused with a domain error.

The cancel-versus-success race rule: **a finished job's success wins over a pending cancel.**
Once a running job is `cancelling`, a success report that arrives before the executor's
acknowledgement still makes it `succeeded`, because the work finished: the model exists and
the tokens were spent (and billed). An acknowledgement that arrives after that success is
ignored. Conversely, once the acknowledgement made the job `cancelled`, a later success report
is ignored: the executor confirmed it stopped, so nothing it says afterwards is trusted. The
event log's order decides, so every replay reaches the same single terminal state. A failure
reported while cancelling makes the job `failed` (the executor says it broke, not that it
obeyed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as AggregateSnapshot

from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, ValidationFailedError
from domain.shared.ids import derived_id
from domain.shared.text import checked_metadata, checked_name
from domain.training.hyperparameters import AUTO, checked
from domain.training.reports import (
    checked_error,
    checked_files,
    checked_metrics,
    checked_step,
)
from domain.training.specs import FineTuningSpec, Spec, spec_from_dict
from domain.training.status import EXECUTOR_REPORTS, TERMINAL, JobStatus, allowed_actions, target

MAX_SEED = 2**31 - 1
MAX_MODEL_LENGTH = 256
MAX_URI_LENGTH = 2000
SNAPSHOT_INTERVAL = 50  # events between two snapshots of a job


def checked_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationFailedError(f"'seed' must be an integer in [0, {MAX_SEED}].",
                                    param="seed")
    return seed


class TrainingJob(Aggregate):
    TOPIC = "bitstride.training.TrainingJob"

    class Snapshot(AggregateSnapshot):
        """The job's state as plain JSON (spec, status and files as stored in its events).

        A job gathers an event per progress report; the Training application snapshots it
        every `SNAPSHOT_INTERVAL` events, so loading a long job reads one snapshot and the
        events after it. Its stored topic is its import path (an explicit topic would be
        known only to a process that had written a snapshot itself); snapshots are disposable,
        so a move can simply delete them."""

        @classmethod
        def take(cls, aggregate: Any) -> Any:
            snapshot = super().take(aggregate)
            snapshot.state.update(spec=aggregate.spec.to_dict(), status=aggregate.status.value,
                                  result_files=list(aggregate.result_files))
            return snapshot

        def mutate(self, _: None) -> Any:
            job: Any = super().mutate(None)
            job.spec = spec_from_dict(job.kind, job.spec)
            job.status = JobStatus(job.status)
            job.result_files = tuple(job.result_files)
            return job

    @staticmethod
    def create_id(org_id: UUID, idempotency_key: str | None = None, **_: Any) -> UUID:
        if idempotency_key is None:
            return uuid4()
        return derived_id("training_job", str(org_id), idempotency_key)

    @event("Created", topic="bitstride.training.TrainingJob.Created")
    def __init__(self, *, org_id: UUID, project_id: UUID | None, kind: str, model: str,
                 spec: dict[str, Any], seed: int, metadata: dict[str, str],
                 request_fingerprint: str, cause: Cause,
                 idempotency_key: str | None = None) -> None:
        self.org_id, self.project_id, self.kind, self.model = org_id, project_id, kind, model
        self.spec: Spec = spec_from_dict(kind, spec)
        self.seed, self.metadata = seed, dict(metadata)
        self.request_fingerprint, self.idempotency_key = request_fingerprint, idempotency_key
        self.status = JobStatus.VALIDATING_FILES
        self.hyperparameters: dict[str, int | float] = dict(self.spec.resolved_hyperparameters)
        self.error: dict[str, str | None] | None = None
        self.fine_tuned_model: str | None = None
        self.trained_tokens: int | None = None
        self.grader_calls = 0
        self.weights_uri: str | None = None
        self.result_files: tuple[str, ...] = ()
        self.executor_id: str | None = None
        self.step = 0
        self.total_steps: int | None = None
        self.metrics: dict[str, float] = {}
        self.latest_checkpoint: str | None = None
        self.last_seq = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.last_cause = cause

    @classmethod
    def create(cls, *, org_id: UUID, project_id: UUID | None, model: str, spec: Spec,
               seed: int, metadata: Mapping[str, str], request_fingerprint: str,
               cause: Cause) -> TrainingJob:
        """`spec` comes checked from domain.training.specs; `seed` from the caller or
        generated by the application, never here."""
        return cls(org_id=org_id, project_id=project_id, kind=spec.kind,
                   model=checked_name(model, param="model", max_length=MAX_MODEL_LENGTH),
                   spec=spec.to_dict(), seed=checked_seed(seed),
                   metadata=checked_metadata(metadata), request_fingerprint=request_fingerprint,
                   cause=cause, idempotency_key=cause.idempotency_key)

    # -- queries ----------------------------------------------------------------------------

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def created_at(self) -> float:
        return self.created_on.timestamp()

    def require_visible_to(self, org_id: UUID) -> None:
        if self.org_id != org_id:
            raise NotFoundError("No such job.")

    # -- the scheduler's commands -----------------------------------------------------------

    def files_validated(self, *, cause: Cause) -> None:
        target(self.status, "files_validated")
        self._files_validated(cause=cause)

    @event("FilesValidated", topic="bitstride.training.TrainingJob.FilesValidated")
    def _files_validated(self, cause: Cause) -> None:
        self.status, self.last_cause = JobStatus.QUEUED, cause

    def files_rejected(self, *, error: Mapping[str, Any], at: float, cause: Cause) -> None:
        target(self.status, "files_rejected")
        self._files_rejected(error=checked_error(error), at=at, cause=cause)

    @event("FilesRejected", topic="bitstride.training.TrainingJob.FilesRejected")
    def _files_rejected(self, error: dict[str, str | None], at: float, cause: Cause) -> None:
        self.status, self.error, self.finished_at = JobStatus.FAILED, dict(error), at
        self.last_cause = cause

    def start(self, *, executor_id: str, total_steps: int,
              resolved_hyperparameters: Mapping[str, int | float], at: float,
              cause: Cause) -> None:
        """The scheduler started the job on an executor with these concrete values."""
        target(self.status, "start")
        method = self.spec.method if isinstance(self.spec, FineTuningSpec) else "rl"
        values = checked(method, resolved_hyperparameters, param="hyperparameters")
        if AUTO in values.values() or set(values) != set(resolved_hyperparameters):
            raise ValidationFailedError("Every hyperparameter must be resolved to a number.",
                                        param="hyperparameters")
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValidationFailedError("'total_steps' must be a positive integer.",
                                        param="total_steps")
        self._started(executor_id=checked_name(executor_id, param="executor_id"),
                      total_steps=total_steps, hyperparameters=values, at=at, cause=cause)

    @event("Started", topic="bitstride.training.TrainingJob.Started")
    def _started(self, executor_id: str, total_steps: int, hyperparameters: dict[str, Any],
                 at: float, cause: Cause) -> None:
        self.status, self.executor_id, self.total_steps = JobStatus.RUNNING, executor_id, \
            total_steps
        self.hyperparameters, self.started_at = dict(hyperparameters), at
        self.last_cause = cause

    # -- executor reports: stale or late ones are ignored (return False) --------------------

    def _fresh(self, action: str, seq: int | None) -> bool:
        """Whether a report applies; raises only when a fresh report is impossible now."""
        assert action in EXECUTOR_REPORTS
        if self.status in TERMINAL:
            return False
        if seq is not None:
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
                raise ValidationFailedError("'seq' must be a positive integer.", param="seq")
            if seq <= self.last_seq:
                return False
        target(self.status, action)
        return True

    def _checked_progress(self, step: int) -> int:
        step = checked_step(step)
        if step < self.step:
            raise ValidationFailedError(
                f"Step {step} is behind the job's step {self.step}.", param="step")
        return step

    def report(self, *, seq: int, step: int, metrics: Mapping[str, object], at: float,
               cause: Cause) -> bool:
        if not self._fresh("report", seq):
            return False
        self._progress_reported(seq=seq, step=self._checked_progress(step),
                                metrics=checked_metrics(metrics), at=at, cause=cause)
        return True

    @event("ProgressReported", topic="bitstride.training.TrainingJob.ProgressReported")
    def _progress_reported(self, seq: int, step: int, metrics: dict[str, float], at: float,
                           cause: Cause) -> None:
        self.last_seq, self.step, self.metrics = seq, step, dict(metrics)
        self.last_cause = cause

    def checkpoint(self, *, seq: int, step: int, metrics: Mapping[str, object], file_key: str,
                   at: float, cause: Cause) -> bool:
        if not self._fresh("checkpoint", seq):
            return False
        self._checkpoint_saved(seq=seq, step=self._checked_progress(step),
                               metrics=checked_metrics(metrics),
                               file_key=checked_name(file_key, param="file_key", max_length=512),
                               at=at, cause=cause)
        return True

    @event("CheckpointSaved", topic="bitstride.training.TrainingJob.CheckpointSaved")
    def _checkpoint_saved(self, *, seq: int, step: int, metrics: dict[str, float], file_key: str,
                          at: float, cause: Cause) -> None:
        self.last_seq, self.step, self.latest_checkpoint = seq, step, file_key
        self.last_cause = cause

    def succeed(self, *, seq: int, fine_tuned_model: str, trained_tokens: int,
                result_files: Sequence[str], at: float, cause: Cause,
                weights_uri: str | None = None, grader_calls: int = 0) -> bool:
        """Wins over a pending cancel (the race rule in this module's docstring).

        `weights_uri` locates the trained weights (registered as the output model);
        `grader_calls` counts an RL run's grader evaluations (billed beside the tokens).
        """
        if not self._fresh("succeed", seq):
            return False
        for name, count in (("trained_tokens", trained_tokens), ("grader_calls", grader_calls)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValidationFailedError(f"'{name}' must be a non-negative integer.",
                                            param=name)
        self._succeeded(seq=seq, fine_tuned_model=checked_name(
            fine_tuned_model, param="fine_tuned_model", max_length=MAX_MODEL_LENGTH),
            trained_tokens=trained_tokens, result_files=checked_files(result_files), at=at,
            cause=cause, grader_calls=grader_calls,
            weights_uri=None if weights_uri is None else checked_name(
                weights_uri, param="weights_uri", max_length=MAX_URI_LENGTH))
        return True

    @event("Succeeded", topic="bitstride.training.TrainingJob.Succeeded")
    def _succeeded(self, *, seq: int, fine_tuned_model: str, trained_tokens: int,
                   result_files: list[str], at: float, cause: Cause, grader_calls: int = 0,
                   weights_uri: str | None = None) -> None:
        self.status, self.last_seq = JobStatus.SUCCEEDED, seq
        self.fine_tuned_model, self.trained_tokens = fine_tuned_model, trained_tokens
        self.result_files, self.finished_at = tuple(result_files), at
        self.grader_calls, self.weights_uri = grader_calls, weights_uri
        self.last_cause = cause

    def fail(self, *, seq: int | None, error: Mapping[str, Any], at: float,
             cause: Cause) -> bool:
        """`seq` None: the scheduler's own verdict (could not start, executor lost)."""
        if not self._fresh("fail", seq):
            return False
        self._failed(seq=seq, error=checked_error(error), at=at, cause=cause)
        return True

    @event("Failed", topic="bitstride.training.TrainingJob.Failed")
    def _failed(self, seq: int | None, error: dict[str, str | None], at: float,
                cause: Cause) -> None:
        self.status, self.error, self.finished_at = JobStatus.FAILED, dict(error), at
        if seq is not None:
            self.last_seq = seq
        self.last_cause = cause

    def acknowledge_cancel(self, *, seq: int, at: float, cause: Cause) -> bool:
        if not self._fresh("acknowledge_cancel", seq):
            return False
        self._cancelled(seq=seq, at=at, cause=cause)
        return True

    # -- the caller's command -----------------------------------------------------------------

    def request_cancel(self, *, at: float, cause: Cause) -> None:
        """Before the job runs, cancel at once; a running job waits for its executor."""
        if target(self.status, "cancel") is JobStatus.CANCELLED:
            self._cancelled(seq=None, at=at, cause=cause)
        else:
            self._cancel_requested(at=at, cause=cause)

    @event("CancelRequested", topic="bitstride.training.TrainingJob.CancelRequested")
    def _cancel_requested(self, at: float, cause: Cause) -> None:
        self.status, self.last_cause = JobStatus.CANCELLING, cause

    @event("Cancelled", topic="bitstride.training.TrainingJob.Cancelled")
    def _cancelled(self, seq: int | None, at: float, cause: Cause) -> None:
        self.status, self.finished_at = JobStatus.CANCELLED, at
        if seq is not None:
            self.last_seq = seq
        self.last_cause = cause

