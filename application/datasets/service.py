"""Dataset use cases: create, describe, upload versions, validate, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome, require_version
from domain.datasets.dataset import Dataset, DatasetInUseError, DatasetVersion, ModelTarget
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError


@dataclass(frozen=True)
class NewDataset:
    """The fields of a create command, as the caller sent them."""

    project_id: UUID | None
    name: str
    description: str
    purpose: str
    data_format: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class UploadedContent:
    """What storage reports after a streamed, content-addressed write."""

    sha256: str
    size: int
    lines: int
    object_key: str


class DatasetUsage(Protocol):
    """Which unfinished jobs use a dataset (public job ids), so deleting it is refused."""

    def users_of_dataset(self, org_id: UUID, dataset_id: UUID) -> list[str]: ...


class NoDatasetUsage:
    def users_of_dataset(self, org_id: UUID, dataset_id: UUID) -> list[str]:
        return []


class DatasetService(BitstrideApplication):
    """Datasets of organizations. One method per command."""

    name = "Datasets"
    usage: DatasetUsage = NoDatasetUsage()

    def create_dataset(self, org_id: UUID, new: NewDataset, *, request_fingerprint: str,
                       cause: Cause) -> Outcome[Dataset]:
        def attempt() -> Outcome[Dataset]:
            dataset = Dataset.create(
                org_id=org_id, project_id=new.project_id, name=new.name,
                description=new.description, purpose=new.purpose,
                data_format=new.data_format, metadata=new.metadata,
                request_fingerprint=request_fingerprint, cause=cause)
            if cause.idempotency_key is not None:
                earlier = self.get_or_none(dataset.id)
                if earlier is not None:
                    return self.replay(earlier, Dataset, request_fingerprint)
            return Outcome(dataset, self.last_position(self.save(dataset)))

        return retry_on_conflict(attempt)

    def dataset(self, org_id: UUID, dataset_id: UUID) -> Dataset:
        dataset = self.get_or_none(dataset_id)
        if not isinstance(dataset, Dataset):
            raise NotFoundError("No such dataset.")
        dataset.require_visible_to(org_id)
        return dataset

    def update_dataset(self, org_id: UUID, dataset_id: UUID, *, name: str | None,
                       description: str | None, metadata: dict[str, str] | None,
                       expected_version: int | None, cause: Cause) -> Outcome[Dataset]:
        def attempt() -> Outcome[Dataset]:
            dataset = self.dataset(org_id, dataset_id)
            require_version(dataset, expected_version)
            dataset.update(name=name, description=description, metadata=metadata, cause=cause)
            return Outcome(dataset, self.last_position(self.save(dataset)))

        return retry_on_conflict(attempt)

    def record_upload(self, org_id: UUID, dataset_id: UUID, content: UploadedContent, *,
                      now: float, cause: Cause) -> tuple[Outcome[Dataset], DatasetVersion]:
        """Concurrent uploads each become a version (one, when their content is equal)."""

        def attempt() -> tuple[Outcome[Dataset], DatasetVersion]:
            dataset = self.dataset(org_id, dataset_id)
            version = dataset.record_upload(
                sha256=content.sha256, size=content.size, lines=content.lines,
                object_key=content.object_key, uploaded_at=now, cause=cause)
            return Outcome(dataset, self.last_position(self.save(dataset))), version

        return retry_on_conflict(attempt)

    def request_validation(self, org_id: UUID, dataset_id: UUID, *, cause: Cause,
                           target: ModelTarget | None = None) -> Outcome[Dataset]:
        def attempt() -> Outcome[Dataset]:
            dataset = self.dataset(org_id, dataset_id)
            dataset.request_validation(cause=cause, target=target)
            return Outcome(dataset, self.last_position(self.save(dataset)))

        return retry_on_conflict(attempt)

    def complete_validation(self, dataset_id: UUID, *, version: int, valid: bool,
                            report: dict[str, Any], cause: Cause) -> Outcome[Dataset]:
        """The validator's result; the worker records it, never a user."""

        def attempt() -> Outcome[Dataset]:
            dataset = self.get_or_none(dataset_id)
            if not isinstance(dataset, Dataset):
                raise NotFoundError("No such dataset.")
            dataset.complete_validation(version=version, valid=valid, report=report,
                                        cause=cause)
            return Outcome(dataset, self.last_position(self.save(dataset)))

        return retry_on_conflict(attempt)

    def delete_dataset(self, org_id: UUID, dataset_id: UUID, *, expected_version: int | None,
                       cause: Cause) -> Outcome[Dataset]:
        def attempt() -> Outcome[Dataset]:
            dataset = self.dataset(org_id, dataset_id)
            require_version(dataset, expected_version)
            users = self.usage.users_of_dataset(org_id, dataset_id)
            if users:
                raise DatasetInUseError(users)
            dataset.delete(cause=cause)
            return Outcome(dataset, self.last_position(self.save(dataset)))

        return retry_on_conflict(attempt)
