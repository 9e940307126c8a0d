"""The training context's catalogs, read from the datasets' and models' aggregates.

Aggregates, not read models: a job pins what is true now, never what a lagging projection
shows, so a dataset validated a moment ago can be trained on at once.
"""

from __future__ import annotations

import re
from uuid import UUID

import structlog

from application.datasets.service import DatasetService
from application.models.service import ModelService, NewModel
from application.serving.backend import ServedWeights
from application.serving.ports import ServableModel
from application.training.ports import OutputModel, PinnedDataset, TrainableModel
from domain.catalog.model import Model
from domain.catalog.name_claim import BASE_SCOPE, ModelNameClaim, name_scope
from domain.catalog.values import DatasetVersionRef
from domain.datasets.status import DatasetStatus
from domain.shared.cause import Cause
from domain.shared.errors import DomainError, NotFoundError
from domain.shared.ids import format_id, parse_id

log = structlog.get_logger("bitstride.training.models")
MODEL_ID = re.compile(r"^model_[0-9a-f]{32}$")


class DatasetAggregates:
    """`DatasetCatalog` over the Datasets application."""

    def __init__(self, datasets: DatasetService) -> None:
        self.datasets = datasets

    def pinned(self, org_id: UUID, dataset_id: UUID) -> PinnedDataset:
        dataset = self.datasets.dataset(org_id, dataset_id)  # NotFoundError across tenants
        current = dataset.current_version
        # An upload after validation makes the dataset `uploaded` again, so a `valid`
        # dataset's report always describes its current version.
        valid = dataset.status is DatasetStatus.VALID
        report = dataset.report or {}
        return PinnedDataset(
            id=dataset.id, version=current.number if current else 0, purpose=dataset.purpose,
            format=dataset.data_format, status=dataset.status.value,
            examples=int(report.get("examples", 0)) if valid else 0)


class ModelAggregates:
    """The catalogs training and serving read, over the Models application: `ModelCatalog`
    and `OutputModels` for jobs, `ModelCatalog` (serving's) and `ServedModels` for
    deployments.

    A model is found by id, or by name (the org's model first, then a base model), as
    `GET /v1/models/{model}` resolves it."""

    def __init__(self, models: ModelService) -> None:
        self.models = models

    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        found = self.models.model(org_id, self._model_id(org_id, model))
        base = found
        if found.lineage is not None:
            root = self.models.get_or_none(found.lineage.base_model_id)
            base = root if isinstance(root, Model) else found
        return TrainableModel(id=format_id("model", found.id), name=found.name,
                              capabilities=frozenset(found.capabilities.training),
                              base_model_id=format_id("model", base.id), base_name=base.name,
                              weights_uri=found.weights_uri)

    def servable(self, org_id: UUID, model: str) -> ServableModel:
        """The serving context's `ModelCatalog`: may a deployment serve it?"""
        found = self.models.model(org_id, self._model_id(org_id, model))  # 404 across tenants
        return ServableModel(id=format_id("model", found.id), name=found.name,
                             serving=found.capabilities.serving)

    def weights_of(self, org_id: UUID, model: str) -> ServedWeights:
        """`ServedModels` for the deployment controller: what a replica loads."""
        found = self.trainable(org_id, model)
        return ServedWeights(name=found.name, base_name=found.base_name,
                             weights_uri=found.weights_uri)

    def register(self, output: OutputModel, *, cause: Cause) -> None:
        """Keyed by the job, so a repeat finds the model registered the first time."""
        key = f"training-job:{output.job_id}"
        keyed = Cause(actor_id=cause.actor_id, actor_kind=cause.actor_kind,
                      request_id=cause.request_id, idempotency_key=key)
        try:
            self.models.register_model(output.org_id, NewModel(
                name=output.name, base_model_id=parse_id("model", output.base_model_id),
                weights_uri=output.weights_uri, job_id=output.job_id,
                description=f"Trained by {output.job_id}.",
                dataset_versions=[DatasetVersionRef(dataset_id, version)
                                  for dataset_id, version in output.dataset_versions]),
                request_fingerprint=key, cause=keyed)
        except DomainError as error:  # e.g. the name was taken by hand meanwhile
            log.error("output_model_not_registered", job_id=output.job_id,
                      model=output.name, reason=str(error))

    def _model_id(self, org_id: UUID, model: str) -> UUID:
        if MODEL_ID.match(model):
            return parse_id("model", model)
        for scope in (name_scope(org_id), BASE_SCOPE):
            claim = self.models.get_or_none(ModelNameClaim.claim_id(scope, model))
            if isinstance(claim, ModelNameClaim) and claim.holder is not None:
                return claim.holder
        raise NotFoundError(f"No such model: {model!r}.")

