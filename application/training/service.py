"""Training use cases: create fine-tuning and RL jobs, cancel them, record their progress.

The user's commands (create, cancel, read) check the tenant; the scheduler's and executors'
commands (files_validated ... acknowledge_cancel) address a job by id alone, as the worker
does. Executor reports that are duplicates, reordered or late save nothing and return an
Outcome whose `position` is None.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome
from application.training.admission import fitting_dataset, trainable_model
from application.training.completion import output_model
from application.training.ports import DatasetCatalog, ModelCatalog, OutputModels
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError
from domain.training.job import MAX_SEED, SNAPSHOT_INTERVAL, TrainingJob
from domain.training.specs import PinnedFile, Spec, fine_tuning_spec, rl_spec


@dataclass(frozen=True)
class NewFineTuningJob:
    """A fine-tuning create command, fields named as OpenAI's `fine_tuning.jobs.create`."""

    model: str
    training_file: UUID
    method: str = "supervised"
    hyperparameters: Mapping[str, object] | None = None
    validation_file: UUID | None = None
    suffix: str | None = None
    seed: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    project_id: UUID | None = None


@dataclass(frozen=True)
class NewRlJob:
    model: str
    training_file: UUID
    grader: Mapping[str, Any]
    rollouts_per_prompt: int | None = None
    kl_beta: float | None = None
    sampling: Mapping[str, object] | None = None
    hyperparameters: Mapping[str, object] | None = None
    seed: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    project_id: UUID | None = None


NewJob = NewFineTuningJob | NewRlJob


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class TrainingService(BitstrideApplication):
    """Training jobs of organizations. One method per command."""

    name = "Training"
    snapshotting_intervals = {TrainingJob: SNAPSHOT_INTERVAL}

    def __init__(self, env: Any = None, *, datasets: DatasetCatalog | None = None,
                 models: ModelCatalog | None = None, outputs: OutputModels | None = None,
                 seeds: Callable[[], int] = random_seed) -> None:
        super().__init__(env)
        self.datasets, self.models, self.outputs, self.seeds = datasets, models, outputs, seeds

    # -- the user's commands ----------------------------------------------------------------

    def create_job(self, org_id: UUID, new: NewJob, *, request_fingerprint: str,
                   cause: Cause) -> Outcome[TrainingJob]:
        """Checks everything first; a retried keyed create returns the first job."""

        def attempt() -> Outcome[TrainingJob]:
            if cause.idempotency_key is not None:
                earlier = self.get_or_none(TrainingJob.create_id(org_id, cause.idempotency_key))
                if earlier is not None:
                    return self.replay(earlier, TrainingJob, request_fingerprint)
            model, spec = self._admitted(org_id, new)
            job = TrainingJob.create(
                org_id=org_id, project_id=new.project_id, model=model, spec=spec,
                seed=self.seeds() if new.seed is None else new.seed, metadata=new.metadata,
                request_fingerprint=request_fingerprint, cause=cause)
            return Outcome(job, self.last_position(self.save(job)))

        return retry_on_conflict(attempt)

    def _admitted(self, org_id: UUID, new: NewJob) -> tuple[str, Spec]:
        if self.datasets is None or self.models is None:
            raise RuntimeError("TrainingService needs its dataset and model catalogs.")
        if isinstance(new, NewFineTuningJob):
            method = new.method
            # The method's own checks come first, so an unknown method names "method.type".
            fine_tuning_spec(method=method, hyperparameters=new.hyperparameters,
                             training_file=PinnedFile(new.training_file, 0),
                             validation_file=None, suffix=new.suffix, examples=1)
            model = trainable_model(self.models, org_id, new.model, method=method)
            training = fitting_dataset(self.datasets, org_id, new.training_file,
                                       method=method, param="training_file")
            validation = None if new.validation_file is None else fitting_dataset(
                self.datasets, org_id, new.validation_file, method=method,
                param="validation_file")
            return model.id, fine_tuning_spec(
                method=method, hyperparameters=new.hyperparameters,
                training_file=PinnedFile(training.id, training.version),
                validation_file=PinnedFile(validation.id, validation.version)
                if validation else None,
                suffix=new.suffix, examples=training.examples)
        def rl(training_file: PinnedFile, examples: int) -> Spec:
            return rl_spec(training_file=training_file, grader=new.grader,
                           rollouts_per_prompt=new.rollouts_per_prompt, kl_beta=new.kl_beta,
                           sampling=new.sampling, hyperparameters=new.hyperparameters,
                           examples=examples)

        rl(PinnedFile(new.training_file, 0), 1)
        model = trainable_model(self.models, org_id, new.model, method="rl")
        prompts = fitting_dataset(self.datasets, org_id, new.training_file, method="rl",
                                  param="training_file")
        return model.id, rl(PinnedFile(prompts.id, prompts.version), prompts.examples)

    def job(self, org_id: UUID, job_id: UUID) -> TrainingJob:
        job = self._load(job_id)
        job.require_visible_to(org_id)
        return job

    def cancel(self, org_id: UUID, job_id: UUID, *, at: float,
               cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.request_cancel(at=at, cause=cause),
                           org_id=org_id)

    # -- the scheduler's and executors' commands ----------------------------------------------

    def files_validated(self, job_id: UUID, *, cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.files_validated(cause=cause))

    def files_rejected(self, job_id: UUID, *, error: Mapping[str, Any], at: float,
                       cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.files_rejected(error=error, at=at,
                                                                  cause=cause))

    def start(self, job_id: UUID, *, executor_id: str, total_steps: int,
              resolved_hyperparameters: Mapping[str, int | float], at: float,
              cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.start(
            executor_id=executor_id, total_steps=total_steps,
            resolved_hyperparameters=resolved_hyperparameters, at=at, cause=cause))

    def report(self, job_id: UUID, *, seq: int, step: int, metrics: Mapping[str, object],
               at: float, cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.report(seq=seq, step=step, metrics=metrics,
                                                          at=at, cause=cause))

    def checkpoint(self, job_id: UUID, *, seq: int, step: int, metrics: Mapping[str, object],
                   file_key: str, at: float, cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.checkpoint(
            seq=seq, step=step, metrics=metrics, file_key=file_key, at=at, cause=cause))

    def succeed(self, job_id: UUID, *, seq: int, fine_tuned_model: str, trained_tokens: int,
                result_files: Sequence[str], at: float, cause: Cause,
                weights_uri: str | None = None, grader_calls: int = 0) -> Outcome[TrainingJob]:
        def decide(job: TrainingJob) -> None:
            job.succeed(seq=seq, fine_tuned_model=fine_tuned_model, trained_tokens=trained_tokens,
                        result_files=result_files, at=at, cause=cause, weights_uri=weights_uri,
                        grader_calls=grader_calls)
            self._register_output(job, cause)

        return self._apply(job_id, decide)

    def fail(self, job_id: UUID, *, seq: int | None, error: Mapping[str, Any], at: float,
             cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.fail(seq=seq, error=error, at=at,
                                                        cause=cause))

    def acknowledge_cancel(self, job_id: UUID, *, seq: int, at: float,
                           cause: Cause) -> Outcome[TrainingJob]:
        return self._apply(job_id, lambda job: job.acknowledge_cancel(seq=seq, at=at,
                                                                      cause=cause))

    def base_model_id(self, job: TrainingJob) -> str:
        """The root of the model the job trained from; "" once that model is gone."""
        if self.models is None:
            return ""
        try:
            return self.models.trainable(job.org_id, job.model).base_model_id
        except NotFoundError:
            return ""

    # -- plumbing -------------------------------------------------------------------------------

    def _register_output(self, job: TrainingJob, cause: Cause) -> None:
        """Before the success is saved, so that whoever reads `succeeded` can deploy the
        model at once. Registration is keyed by the job: a retried success registers once."""
        if self.outputs is None:
            return
        output = output_model(job, self.base_model_id(job))
        if output is not None:
            self.outputs.register(output, cause=cause)

    def _load(self, job_id: UUID) -> TrainingJob:
        job = self.get_or_none(job_id)
        if not isinstance(job, TrainingJob):
            raise NotFoundError("No such job.")
        return job

    def _apply(self, job_id: UUID, command: Callable[[TrainingJob], object], *,
               org_id: UUID | None = None) -> Outcome[TrainingJob]:
        """Load, decide, save; the loser of a version race retries on the fresh state."""

        def attempt() -> Outcome[TrainingJob]:
            job = self._load(job_id) if org_id is None else self.job(org_id, job_id)
            command(job)
            return Outcome(job, self.last_position(self.save(job)))

        return retry_on_conflict(attempt)
