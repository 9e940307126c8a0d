"""Dataset objects for the API, from read-model rows and from the aggregate after a write."""

from __future__ import annotations

from typing import Any

from domain.datasets.dataset import Dataset as DatasetAggregate
from domain.datasets.status import DatasetStatus, allowed_actions
from domain.shared.ids import format_id
from interfaces.http.schemas import Dataset, DatasetValidation, DatasetVersion


def _validation(version: int | None, report: dict[str, Any] | None) -> DatasetValidation | None:
    if version is None or report is None:
        return None
    return DatasetValidation(version=version, valid=bool(report.get("valid")), report=report)


def dataset_from_row(row: dict[str, Any]) -> Dataset:
    versions = [DatasetVersion(**v) for v in row["versions"]]
    return Dataset(
        id=f"ds_{row['id']}", object="dataset", name=row["name"],
        description=row["description"], purpose=row["purpose"], format=row["format"],
        metadata=row["metadata"],
        project_id=f"proj_{row['project_id']}" if row["project_id"] else None,
        status=row["status"], allowed_actions=list(allowed_actions(DatasetStatus(row["status"]))),
        version=row["version"], current_version=versions[-1].number if versions else None,
        versions=versions, validation=_validation(row["validated_version"], row["report"]),
        created_at=row["created_at"], updated_at=row["updated_at"])


def dataset_from_aggregate(dataset: DatasetAggregate) -> Dataset:
    versions = [DatasetVersion(number=v.number, sha256=v.sha256, bytes=v.size, lines=v.lines,
                               uploaded_at=int(v.uploaded_at)) for v in dataset.versions]
    return Dataset(
        id=format_id("ds", dataset.id), object="dataset", name=dataset.name,
        description=dataset.description, purpose=dataset.purpose, format=dataset.data_format,
        metadata=dataset.metadata,
        project_id=format_id("proj", dataset.project_id) if dataset.project_id else None,
        status=dataset.status.value, allowed_actions=list(dataset.allowed_actions),
        version=dataset.version, current_version=versions[-1].number if versions else None,
        versions=versions, validation=_validation(dataset.validated_version, dataset.report),
        created_at=int(dataset.created_on.timestamp()),
        updated_at=int(dataset.modified_on.timestamp()))
