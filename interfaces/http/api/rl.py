"""`/v1/rl/jobs`: reinforcement-learning jobs on a prompt dataset, scored by a grader.

The same routes and object as fine-tuning jobs (`object: "rl.job"`, ids `rljob_…`); create
takes the grader, `rollouts_per_prompt`, `kl_beta`, `sampling` and hyperparameters.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.training.service import NewRlJob
from interfaces.control_plane import ControlPlane
from interfaces.http.api.training_jobs import TrainingJobsController, dataset_id
from interfaces.http.docs import errors
from interfaces.http.security import Principal, owning_project
from interfaces.http.training_presenter import RL
from interfaces.http.training_schemas import CreateRlJobRequest, TrainingJob


class RlJobsController(TrainingJobsController):
    path = "/v1/rl/jobs"
    tags = ["RL"]
    job_kind = RL

    @post(sync_to_thread=True, operation_id="createRlJob", status_code=200,
          summary="Create an RL job",
          description="The grader is validated (and never run) at create; a problem is 400 "
                      "naming the `param`, e.g. `grader.operation`.",
          responses=errors(400, 401, 403, 404, 409))
    def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateRlJobRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> TrainingJob:
        new = NewRlJob(
            model=data.model, training_file=dataset_id(data.training_file, "training_file"),
            grader=data.grader, rollouts_per_prompt=data.rollouts_per_prompt,
            kl_beta=data.kl_beta, sampling=data.sampling, hyperparameters=data.hyperparameters,
            seed=data.seed, metadata=data.metadata,
            project_id=owning_project(principal, data.project_id, plane.queries))
        return self.create_job(request, data, new, principal, plane)
