"""The training context's catalogs, read from the datasets' and models' aggregates.

Aggregates, not read models: a job pins what is true now, never what a lagging projection
shows, so a dataset validated a moment ago can be trained on at once.
"""

from __future__ import annotations

import re
from uuid import UUID

from application.datasets.service import DatasetService
from application.models.service import ModelService
from application.training.ports import PinnedDataset, TrainableModel
from domain.catalog.name_claim import BASE_SCOPE, ModelNameClaim, name_scope
from domain.datasets.status import DatasetStatus
from domain.shared.errors import NotFoundError
from domain.shared.ids import format_id, parse_id

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
    """`ModelCatalog` over the Models application: an id, or a name (the org's model first,
    then a base model), as `GET /v1/models/{model}` resolves it."""

    def __init__(self, models: ModelService) -> None:
        self.models = models

    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        found = self.models.model(org_id, self._model_id(org_id, model))
        return TrainableModel(id=format_id("model", found.id), name=found.name,
                              capabilities=frozenset(found.capabilities.training))

    def _model_id(self, org_id: UUID, model: str) -> UUID:
        if MODEL_ID.match(model):
            return parse_id("model", model)
        for scope in (name_scope(org_id), BASE_SCOPE):
            claim = self.models.get_or_none(ModelNameClaim.claim_id(scope, model))
            if isinstance(claim, ModelNameClaim) and claim.holder is not None:
                return claim.holder
        raise NotFoundError(f"No such model: {model!r}.")

