"""Model objects for the API, from read-model rows and from the aggregate after a write."""

from __future__ import annotations

from typing import Any

from domain.catalog.model import Model as ModelAggregate
from domain.catalog.status import ModelKind, ModelStatus, allowed_actions
from domain.shared.ids import format_id
from interfaces.http.schemas import Model, ModelCapabilities, ModelDatasetVersion, ModelLineage

PLATFORM_OWNER = "bitstride"


def _lineage(data: dict[str, Any] | None) -> ModelLineage | None:
    if data is None:
        return None
    return ModelLineage(
        base_model=f"model_{data['base_model_id']}", job_id=data["job_id"],
        dataset_versions=[ModelDatasetVersion(dataset_id=f"ds_{ref['dataset_id']}",
                                              version=ref["version"])
                          for ref in data["dataset_versions"]])


def _owner(org_hex: str | None) -> str:
    return f"org_{org_hex}" if org_hex else PLATFORM_OWNER


def model_from_row(row: dict[str, Any]) -> Model:
    kind, status = ModelKind(row["kind"]), ModelStatus(row["status"])
    return Model(
        id=f"model_{row['id']}", object="model", created=row["created_at"],
        owned_by=_owner(row["org_id"]), name=row["name"], kind=kind.value,
        description=row["description"], context_length=row["context_length"],
        tokenizer=row["tokenizer"], capabilities=ModelCapabilities(**row["capabilities"]),
        weights_uri=row["weights_uri"], lineage=_lineage(row["lineage"]),
        metadata=row["metadata"], status=status.value,
        allowed_actions=list(allowed_actions(status, kind)), version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def model_from_aggregate(model: ModelAggregate) -> Model:
    created = int(model.created_on.timestamp())
    return Model(
        id=format_id("model", model.id), object="model", created=created,
        owned_by=_owner(model.org_id.hex if model.org_id else None), name=model.name,
        kind=model.kind.value, description=model.description,
        context_length=model.context_length, tokenizer=model.tokenizer,
        capabilities=ModelCapabilities(**model.capabilities.as_dict()),
        weights_uri=model.weights_uri,
        lineage=_lineage(model.lineage.as_dict() if model.lineage else None),
        metadata=model.metadata, status=model.status.value,
        allowed_actions=list(model.allowed_actions), version=model.version,
        created_at=created, updated_at=int(model.modified_on.timestamp()))
