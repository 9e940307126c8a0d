"""Request and response bodies of the fine-tuning and RL job routes (OpenAI's shapes)."""

from __future__ import annotations

from typing import Any

import msgspec

from interfaces.http.schemas import ModelDatasetVersion, StringMap

Values = dict[str, Any]


class MethodSettings(msgspec.Struct, forbid_unknown_fields=True):
    hyperparameters: Values | None = None


class FineTuningMethod(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    supervised: MethodSettings | None = None
    dpo: MethodSettings | None = None


class CreateFineTuningJobRequest(msgspec.Struct, forbid_unknown_fields=True):
    """OpenAI's `fine_tuning.jobs.create` body; `training_file` is a dataset id (`ds_…`)."""

    model: str
    training_file: str
    validation_file: str | None = None
    method: FineTuningMethod | None = None
    hyperparameters: Values | None = None  # OpenAI's legacy field: supervised only
    suffix: str | None = None
    seed: int | None = None
    metadata: StringMap = msgspec.field(default_factory=dict)
    project_id: str | None = None


class CreateRlJobRequest(msgspec.Struct, forbid_unknown_fields=True):
    model: str
    training_file: str
    grader: Values
    rollouts_per_prompt: int | None = None
    kl_beta: float | None = None
    sampling: Values | None = None
    hyperparameters: Values | None = None
    seed: int | None = None
    metadata: StringMap = msgspec.field(default_factory=dict)
    project_id: str | None = None


class JobError(msgspec.Struct):
    code: str | None
    message: str | None
    param: str | None


class JobProgress(msgspec.Struct):
    step: int
    total_steps: int | None


class TrainingJob(msgspec.Struct):
    """OpenAI's `fine_tuning.job` fields, then ours."""

    id: str
    object: str
    created_at: int
    model: str
    status: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, int | float]
    method: Values
    fine_tuned_model: str | None
    trained_tokens: int | None
    result_files: list[str]
    seed: int
    error: JobError | None
    finished_at: int | None
    estimated_finish: int | None
    organization_id: str
    metadata: dict[str, str]
    user_provided_suffix: str | None
    integrations: list[Values]
    allowed_actions: list[str]
    version: int
    started_at: int | None
    project_id: str | None
    progress: JobProgress
    dataset_versions: list[ModelDatasetVersion]


class JobEvent(msgspec.Struct):
    id: str
    object: str
    created_at: int
    level: str
    message: str
    type: str
    data: Values


class JobCheckpoint(msgspec.Struct):
    id: str
    object: str
    created_at: int
    fine_tuned_model_checkpoint: str
    step_number: int
    metrics: Values
    fine_tuning_job_id: str
    file_key: str
