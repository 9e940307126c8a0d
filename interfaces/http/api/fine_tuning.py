"""`/v1/fine_tuning/jobs`: OpenAI's fine-tuning API over Bitstride's datasets and models.

Create answers 200 with the job, as OpenAI's does. `training_file` and `validation_file` are
dataset ids (`ds_…`); their current versions are pinned. OpenAI's legacy top-level
`hyperparameters` is accepted for supervised jobs.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.training.service import NewFineTuningJob
from domain.shared.errors import ValidationFailedError
from interfaces.control_plane import ControlPlane
from interfaces.http.api.training_jobs import TrainingJobsController, dataset_id
from interfaces.http.docs import errors
from interfaces.http.security import Principal, owning_project
from interfaces.http.training_presenter import FINE_TUNING
from interfaces.http.training_schemas import CreateFineTuningJobRequest, TrainingJob, Values


def method_and_hyperparameters(body: CreateFineTuningJobRequest) -> tuple[str,
                                                                           Values | None]:
    """`method.type` and its hyperparameters, or the legacy field for supervised jobs."""
    method = body.method.type if body.method else "supervised"
    settings = getattr(body.method, method, None) if method in ("supervised", "dpo") else None
    nested = settings.hyperparameters if settings is not None else None
    if body.hyperparameters is not None:
        if method != "supervised" or nested is not None:
            raise ValidationFailedError(
                "Top-level 'hyperparameters' is only for supervised jobs without "
                "'method.supervised.hyperparameters'.", param="hyperparameters")
        return method, body.hyperparameters
    return method, nested


class FineTuningJobsController(TrainingJobsController):
    path = "/v1/fine_tuning/jobs"
    tags = ["Fine-tuning"]
    job_kind = FINE_TUNING

    @post(sync_to_thread=True, operation_id="createFineTuningJob", status_code=200,
          summary="Create a fine-tuning job (supervised or dpo)",
          description="Everything is checked first; a problem is 400 naming the `param` and "
                      "nothing is created. `Idempotency-Key` makes a retry return the same job.",
          responses=errors(400, 401, 403, 404, 409))
    def create(self, request: Request[Any, Any, Any],
               data: JSONBody[CreateFineTuningJobRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> TrainingJob:
        method, hyperparameters = method_and_hyperparameters(data)
        new = NewFineTuningJob(
            model=data.model, training_file=dataset_id(data.training_file, "training_file"),
            method=method, hyperparameters=hyperparameters,
            validation_file=dataset_id(data.validation_file, "validation_file")
            if data.validation_file is not None else None,
            suffix=data.suffix, seed=data.seed, metadata=data.metadata,
            project_id=owning_project(principal, data.project_id, plane.queries))
        return self.create_job(request, data, new, principal, plane)
