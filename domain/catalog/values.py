"""Value objects of a model: what it can do, and where it came from.

Events carry them as plain dicts (`as_dict`), so auditors read the log without our classes
and a stored event never depends on a class layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.shared.errors import ValidationFailedError

TRAINING_METHODS = ("supervised", "dpo", "rl")
MAX_CONTEXT_LENGTH = 10_000_000
# A name is usable in a URL path and as the gateway's `model` field: no spaces, no slashes.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
ID_LIKE = re.compile(r"^model_[0-9a-f]{32}$")
URI_PATTERN = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
MAX_URI_LENGTH = 2000


def checked_model_name(value: str) -> str:
    name = value.strip()
    if not NAME_PATTERN.match(name) or ID_LIKE.match(name):
        raise ValidationFailedError(
            "'name' must be 1 to 100 letters, digits, '.', '_', ':' or '-', start with a "
            "letter or digit, and not look like a model id.", param="name")
    return name


def checked_context_length(value: int, *, param: str = "context_length") -> int:
    if isinstance(value, bool) or not 1 <= value <= MAX_CONTEXT_LENGTH:
        raise ValidationFailedError(
            f"'{param}' must be an integer from 1 to {MAX_CONTEXT_LENGTH}.", param=param)
    return value


def checked_uri(value: str, *, param: str = "weights_uri") -> str:
    if len(value) > MAX_URI_LENGTH or not URI_PATTERN.match(value):
        raise ValidationFailedError(
            f"'{param}' must be a URI such as s3://bucket/path or file:///path "
            f"(at most {MAX_URI_LENGTH} characters).", param=param)
    return value


@dataclass(frozen=True)
class Capabilities:
    """The training methods a model supports, and whether it can be served."""

    training: tuple[str, ...]
    serving: bool

    @classmethod
    def of(cls, training: list[str] | tuple[str, ...], serving: bool) -> Capabilities:
        unknown = [m for m in training if m not in TRAINING_METHODS]
        if unknown:
            raise ValidationFailedError(
                f"Unknown training methods {unknown}; use {', '.join(TRAINING_METHODS)}.",
                param="capabilities.training")
        ordered = tuple(m for m in TRAINING_METHODS if m in training)
        return cls(training=ordered, serving=bool(serving))

    def as_dict(self) -> dict[str, Any]:
        return {"training": list(self.training), "serving": self.serving}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capabilities:
        return cls(training=tuple(data["training"]), serving=bool(data["serving"]))


@dataclass(frozen=True)
class DatasetVersionRef:
    """The exact dataset version a job trained on (versions are immutable)."""

    dataset_id: UUID
    version: int


@dataclass(frozen=True)
class Lineage:
    """Where an organization's model came from: its base, the job, the data."""

    base_model_id: UUID
    job_id: str | None = None
    dataset_versions: tuple[DatasetVersionRef, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"base_model_id": self.base_model_id.hex, "job_id": self.job_id,
                "dataset_versions": [{"dataset_id": ref.dataset_id.hex, "version": ref.version}
                                     for ref in self.dataset_versions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        refs = tuple(DatasetVersionRef(UUID(hex=r["dataset_id"]), int(r["version"]))
                     for r in data["dataset_versions"])
        return cls(base_model_id=UUID(hex=data["base_model_id"]), job_id=data["job_id"],
                   dataset_versions=refs)
