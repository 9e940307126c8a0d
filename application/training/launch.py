"""What the scheduler hands an executor: the job's concrete run, named and sized."""

from __future__ import annotations

import math

from application.training.ports import ExecutorJob, TrainableModel
from domain.training.job import TrainingJob
from domain.training.specs import FineTuningSpec

MAX_OUTPUT_NAME = 100


def total_steps(examples: int, hyperparameters: dict[str, int | float]) -> int:
    """Optimizer steps for `examples` trained `n_epochs` times in batches of `batch_size`."""
    epochs = int(hyperparameters.get("n_epochs", 1))
    batch = max(int(hyperparameters.get("batch_size", 1)), 1)
    return max(math.ceil(examples * epochs / batch), 1)


def output_model_name(job: TrainingJob, base_name: str) -> str:
    """OpenAI's shape, `ft:<base>[:<suffix>]:<job>`; unique by the job's id."""
    suffix = job.spec.suffix if isinstance(job.spec, FineTuningSpec) else None
    tail = ":".join([*([suffix] if suffix else []), job.id.hex[:12]])
    room = MAX_OUTPUT_NAME - len(f"ft::{tail}")  # a long base name gives way, never the job
    return f"ft:{base_name[:room]}:{tail}"


def executor_job(job: TrainingJob, model: TrainableModel, examples: int) -> ExecutorJob:
    spec = job.spec
    hyperparameters = dict(job.hyperparameters)
    validation = spec.validation_file if isinstance(spec, FineTuningSpec) else None
    return ExecutorJob(
        job_id=job.id, org_id=job.org_id, kind=job.kind,
        method=spec.method if isinstance(spec, FineTuningSpec) else "rl",
        model=job.model, base_name=model.base_name or model.name,
        weights_uri=model.weights_uri,
        training_file=(spec.training_file.dataset_id, spec.training_file.version),
        validation_file=(validation.dataset_id, validation.version) if validation else None,
        spec=spec.to_dict(), hyperparameters=hyperparameters, seed=job.seed,
        total_steps=job.total_steps or total_steps(examples, hyperparameters),
        output_model=output_model_name(job, model.base_name or model.name))
