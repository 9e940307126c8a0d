"""Dataset: named training data whose uploads are immutable, content-addressed versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.datasets.status import TERMINAL, DatasetStatus, allowed_actions, require
from domain.shared.cause import Cause
from domain.shared.errors import ConflictError, NotFoundError, ValidationFailedError
from domain.shared.ids import derived_id
from domain.shared.text import checked_metadata, checked_name, checked_text, revised

PURPOSES = ("fine_tuning", "rl")
FORMATS = {"fine_tuning": ("chat", "preference"), "rl": ("prompt",)}
MAX_DESCRIPTION_LENGTH = 2000


@dataclass(frozen=True)
class DatasetVersion:
    """One upload: what a job pins. Never changes once recorded."""

    number: int
    sha256: str
    size: int
    lines: int
    object_key: str
    uploaded_at: float


class DatasetInUseError(ConflictError):
    """Raised when unfinished jobs train on a dataset that someone tries to delete."""

    code = "dataset_in_use"

    def __init__(self, users: list[str]) -> None:
        super().__init__(f"The dataset is used by unfinished jobs: {', '.join(users)}. "
                         "Cancel them or wait for them to end first.")
        self.users = users


@dataclass(frozen=True)
class ModelTarget:
    """The model a dataset is checked for: its id, context length and tokenizer."""

    model: str
    context_length: int
    tokenizer: str | None


def checked_purpose_and_format(purpose: str, data_format: str) -> tuple[str, str]:
    if purpose not in PURPOSES:
        raise ValidationFailedError(f"'purpose' must be one of {', '.join(PURPOSES)}.",
                                    param="purpose")
    if data_format not in FORMATS[purpose]:
        raise ValidationFailedError(
            f"A {purpose} dataset's 'format' must be one of {', '.join(FORMATS[purpose])}.",
            param="format")
    return purpose, data_format


class Dataset(Aggregate):
    TOPIC = "bitstride.datasets.Dataset"

    @staticmethod
    def create_id(org_id: UUID, idempotency_key: str | None = None, **_: Any) -> UUID:
        if idempotency_key is None:
            return uuid4()
        return derived_id("dataset", str(org_id), idempotency_key)

    @event("Created", topic="bitstride.datasets.Dataset.Created")
    def __init__(self, *, org_id: UUID, project_id: UUID | None, name: str, description: str,
                 purpose: str, data_format: str, metadata: dict[str, str],
                 request_fingerprint: str, cause: Cause,
                 idempotency_key: str | None = None) -> None:
        self.org_id, self.project_id = org_id, project_id
        self.name, self.description, self.metadata = name, description, dict(metadata)
        self.purpose, self.data_format = purpose, data_format
        self.request_fingerprint, self.idempotency_key = request_fingerprint, idempotency_key
        self.status = DatasetStatus.CREATED
        self.versions: tuple[DatasetVersion, ...] = ()
        self.validated_version: int | None = None
        self.report: dict[str, Any] | None = None
        self.last_cause = cause

    @classmethod
    def create(cls, *, org_id: UUID, project_id: UUID | None, name: str, description: str,
               purpose: str, data_format: str, metadata: dict[str, str],
               request_fingerprint: str, cause: Cause) -> Dataset:
        purpose, data_format = checked_purpose_and_format(purpose, data_format)
        return cls(org_id=org_id, project_id=project_id, name=checked_name(name),
                   description=checked_text(description, param="description",
                                            max_length=MAX_DESCRIPTION_LENGTH),
                   purpose=purpose, data_format=data_format,
                   metadata=checked_metadata(metadata),
                   request_fingerprint=request_fingerprint, cause=cause,
                   idempotency_key=cause.idempotency_key)

    # -- queries ----------------------------------------------------------------------------

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status)

    @property
    def current_version(self) -> DatasetVersion | None:
        return self.versions[-1] if self.versions else None

    def require_visible_to(self, org_id: UUID) -> None:
        if self.org_id != org_id or self.status in TERMINAL:
            raise NotFoundError("No such dataset.")

    def find_version(self, number: int) -> DatasetVersion:
        for version in self.versions:
            if version.number == number:
                return version
        raise NotFoundError(f"Dataset has no version {number}.", param="version")

    # -- commands ---------------------------------------------------------------------------

    def update(self, *, name: str | None, description: str | None,
               metadata: dict[str, str] | None, cause: Cause) -> None:
        require(self.status, "update")
        new = revised((self.name, self.description, self.metadata), name=name,
                      description=description, metadata=metadata,
                      max_description=MAX_DESCRIPTION_LENGTH)
        if new is not None:
            self._updated(name=new[0], description=new[1], metadata=new[2], cause=cause)

    @event("Updated", topic="bitstride.datasets.Dataset.Updated")
    def _updated(self, name: str, description: str, metadata: dict[str, str],
                 cause: Cause) -> None:
        self.name, self.description, self.metadata = name, description, dict(metadata)
        self.last_cause = cause

    def record_upload(self, *, sha256: str, size: int, lines: int, object_key: str,
                      uploaded_at: float, cause: Cause) -> DatasetVersion:
        """A new version; uploading the same content as the current version changes nothing."""
        require(self.status, "upload")
        current = self.current_version
        if current is not None and current.sha256 == sha256:
            return current
        self._uploaded(number=len(self.versions) + 1, sha256=sha256, size=size, lines=lines,
                       object_key=object_key, uploaded_at=uploaded_at, cause=cause)
        assert self.current_version is not None
        return self.current_version

    @event("Uploaded", topic="bitstride.datasets.Dataset.Uploaded")
    def _uploaded(self, *, number: int, sha256: str, size: int, lines: int, object_key: str,
                  uploaded_at: float, cause: Cause) -> None:
        version = DatasetVersion(number, sha256, size, lines, object_key, uploaded_at)
        self.versions = (*self.versions, version)
        self.status, self.report, self.validated_version = DatasetStatus.UPLOADED, None, None
        self.last_cause = cause

    def request_validation(self, *, cause: Cause, target: ModelTarget | None = None) -> int:
        """Returns the version number the worker must validate.

        With a target model, lengths are counted with its tokenizer against its context length.
        """
        require(self.status, "validate")
        assert self.current_version is not None  # "validate" is allowed only after an upload
        self._validation_requested(
            version=self.current_version.number, cause=cause,
            model=target.model if target else None,
            context_length=target.context_length if target else None,
            tokenizer=target.tokenizer if target else None)
        return self.current_version.number

    class ValidationRequested(Aggregate.Event):
        """The worker validates `version` (for `model`, when one is named) when it sees this."""

        TOPIC = "bitstride.datasets.Dataset.ValidationRequested"
        version: int
        model: str | None
        context_length: int | None
        tokenizer: str | None
        cause: Cause

    @event(ValidationRequested)
    def _validation_requested(self, version: int, model: str | None, context_length: int | None,
                              tokenizer: str | None, cause: Cause) -> None:
        self.status, self.last_cause = DatasetStatus.VALIDATING, cause

    def complete_validation(self, *, version: int, valid: bool, report: dict[str, Any],
                            cause: Cause) -> None:
        require(self.status, "complete_validation")
        if self.current_version is None or version != self.current_version.number:
            raise ValidationFailedError("The report is for another version.", param="version")
        self._validation_completed(version=version, valid=valid, report=report, cause=cause)

    @event("ValidationCompleted", topic="bitstride.datasets.Dataset.ValidationCompleted")
    def _validation_completed(self, version: int, valid: bool, report: dict[str, Any],
                              cause: Cause) -> None:
        self.status = DatasetStatus.VALID if valid else DatasetStatus.INVALID
        self.validated_version, self.report, self.last_cause = version, dict(report), cause

    def delete(self, *, cause: Cause) -> None:
        require(self.status, "delete")
        self._deleted(cause=cause)

    @event("Deleted", topic="bitstride.datasets.Dataset.Deleted")
    def _deleted(self, cause: Cause) -> None:
        self.status, self.last_cause = DatasetStatus.DELETED, cause

