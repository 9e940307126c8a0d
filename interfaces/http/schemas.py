"""Request and response bodies of the control plane (msgspec: fast, and exact OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
StringMap = Annotated[dict[str, str], msgspec.Meta(max_length=16)]

T = TypeVar("T")


class CreateProjectRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Description = ""
    metadata: StringMap = msgspec.field(default_factory=dict)


class UpdateProjectRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    description: Description | None = None
    metadata: StringMap | None = None


class UpdateOrganizationRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    settings: StringMap | None = None


class Project(msgspec.Struct):
    id: str
    object: str
    organization_id: str
    name: str
    description: str
    metadata: dict[str, str]
    status: str
    allowed_actions: list[str]
    version: int
    created_at: int
    updated_at: int


class Organization(msgspec.Struct):
    id: str
    object: str
    name: str
    owner_user_id: str
    settings: dict[str, str]
    status: str
    allowed_actions: list[str]
    version: int
    created_at: int
    updated_at: int


class Deleted(msgspec.Struct):
    id: str
    object: str
    deleted: bool


class ListPage(msgspec.Struct, Generic[T]):
    object: str
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


def page_of(items: list[T], ids: list[str], has_more: bool) -> ListPage[T]:
    return ListPage(object="list", data=items, first_id=ids[0] if ids else None,
                    last_id=ids[-1] if ids else None, has_more=has_more)


class CreateDatasetRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    purpose: str
    format: str
    description: Description = ""
    metadata: StringMap = msgspec.field(default_factory=dict)
    project_id: str | None = None


class UpdateDatasetRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    description: Description | None = None
    metadata: StringMap | None = None


class DatasetVersion(msgspec.Struct):
    number: int
    sha256: str
    bytes: int
    lines: int
    uploaded_at: int


class DatasetValidation(msgspec.Struct):
    version: int
    valid: bool
    report: dict[str, Any]


class Dataset(msgspec.Struct):
    id: str
    object: str
    name: str
    description: str
    purpose: str
    format: str
    metadata: dict[str, str]
    project_id: str | None
    status: str
    allowed_actions: list[str]
    version: int
    current_version: int | None
    versions: list[DatasetVersion]
    validation: DatasetValidation | None
    created_at: int
    updated_at: int


# -- models (issue 4) ----------------------------------------------------------------------


class RegisterModelRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    base_model: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    weights_uri: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    context_length: int | None = None
    description: Description = ""
    metadata: StringMap = msgspec.field(default_factory=dict)


class UpdateModelRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    description: Description | None = None
    metadata: StringMap | None = None


class ModelCapabilities(msgspec.Struct):
    training: list[str]
    serving: bool


class ModelDatasetVersion(msgspec.Struct):
    dataset_id: str
    version: int


class ModelLineage(msgspec.Struct):
    base_model: str
    job_id: str | None
    dataset_versions: list[ModelDatasetVersion]


class Model(msgspec.Struct):
    """OpenAI's model object (`id`, `object`, `created`, `owned_by`) plus the catalog's own."""

    id: str
    object: str
    created: int
    owned_by: str
    name: str
    kind: str
    description: str
    context_length: int
    tokenizer: str
    capabilities: ModelCapabilities
    weights_uri: str | None
    lineage: ModelLineage | None
    metadata: dict[str, str]
    status: str
    allowed_actions: list[str]
    version: int
    created_at: int
    updated_at: int


class ValidateDatasetRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Optional: the model to check lengths against (its tokenizer and context length)."""

    model: str | None = None
