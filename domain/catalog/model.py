"""Model: a base model of the platform's catalog, or a model an organization owns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.catalog.status import TERMINAL, ModelKind, ModelStatus, allowed_actions, require
from domain.catalog.values import (
    Capabilities,
    DatasetVersionRef,
    Lineage,
    checked_context_length,
    checked_model_name,
    checked_uri,
)
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from domain.shared.ids import derived_id
from domain.shared.text import checked_metadata, checked_text

MAX_DESCRIPTION_LENGTH = 2000
MAX_TOKENIZER_LENGTH = 200


def base_model_id(name: str) -> UUID:
    """A base model's id follows from its catalog name: reloading the catalog finds it."""
    return derived_id("base-model", name)


class Model(Aggregate):
    TOPIC = "bitstride.catalog.Model"

    @staticmethod
    def create_id(kind: str, org_id: UUID | None, name: str,
                  idempotency_key: str | None = None, **_: Any) -> UUID:
        if kind == ModelKind.BASE.value:
            return base_model_id(name)
        if idempotency_key is None:
            return uuid4()
        return derived_id("model", str(org_id), idempotency_key)

    @event("Created", topic="bitstride.catalog.Model.Created")
    def __init__(self, *, kind: str, org_id: UUID | None, name: str, description: str,
                 context_length: int, tokenizer: str, capabilities: dict[str, Any],
                 weights_uri: str | None, lineage: dict[str, Any] | None,
                 metadata: dict[str, str], request_fingerprint: str, cause: Cause,
                 idempotency_key: str | None = None) -> None:
        self.kind, self.org_id, self.name = ModelKind(kind), org_id, name
        self.description, self.metadata = description, dict(metadata)
        self.context_length, self.tokenizer = context_length, tokenizer
        self.capabilities = Capabilities.from_dict(capabilities)
        self.weights_uri = weights_uri
        self.lineage = Lineage.from_dict(lineage) if lineage is not None else None
        self.request_fingerprint, self.idempotency_key = request_fingerprint, idempotency_key
        self.status = ModelStatus.ACTIVE
        self.last_cause = cause

    @classmethod
    def register_base(cls, *, name: str, description: str, context_length: int,
                      tokenizer: str, capabilities: Capabilities, cause: Cause) -> Model:
        """A catalog entry; only the platform (the catalog loader) records these."""
        return cls(kind=ModelKind.BASE.value, org_id=None, name=checked_model_name(name),
                   description=checked_text(description, param="description",
                                            max_length=MAX_DESCRIPTION_LENGTH),
                   context_length=checked_context_length(context_length),
                   tokenizer=_checked_tokenizer(tokenizer),
                   capabilities=capabilities.as_dict(), weights_uri=None, lineage=None,
                   metadata={}, request_fingerprint="", cause=cause, idempotency_key=None)

    @classmethod
    def register(cls, *, org_id: UUID, name: str, base: Model, weights_uri: str,
                 context_length: int | None, description: str, metadata: dict[str, str],
                 request_fingerprint: str, cause: Cause, job_id: str | None = None,
                 dataset_versions: Sequence[DatasetVersionRef] = ()) -> Model:
        """An organization's model, derived from a base model whose tokenizer it keeps.

        Its context length defaults to the base's and may not exceed it: weights trained
        from a base do not attend further than the base's positions reach.
        """
        if base.kind is not ModelKind.BASE or base.status in TERMINAL:
            raise ValidationFailedError("'base_model' must name an active base model.",
                                        param="base_model")
        length = base.context_length if context_length is None else checked_context_length(
            context_length)
        if length > base.context_length:
            raise ValidationFailedError(
                f"'context_length' may not exceed the base model's {base.context_length}.",
                param="context_length")
        lineage = Lineage(base_model_id=base.id, job_id=job_id,
                          dataset_versions=tuple(dataset_versions))
        return cls(kind=ModelKind.ORGANIZATION.value, org_id=org_id,
                   name=checked_model_name(name),
                   description=checked_text(description, param="description",
                                            max_length=MAX_DESCRIPTION_LENGTH),
                   context_length=length, tokenizer=base.tokenizer,
                   capabilities=base.capabilities.as_dict(),
                   weights_uri=checked_uri(weights_uri), lineage=lineage.as_dict(),
                   metadata=checked_metadata(metadata),
                   request_fingerprint=request_fingerprint, cause=cause,
                   idempotency_key=cause.idempotency_key)

    # -- queries ----------------------------------------------------------------------------

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status, self.kind)

    def visible_to(self, org_id: UUID) -> bool:
        """Base models to everyone, an organization's models to it alone; deleted to none."""
        if self.status in TERMINAL:
            return False
        return self.kind is ModelKind.BASE or self.org_id == org_id

    def require_visible_to(self, org_id: UUID) -> None:
        if not self.visible_to(org_id):
            raise NotFoundError("No such model.")

    def require_changeable_by(self, org_id: UUID) -> None:
        """Another organization's model does not exist for the caller (404); a base model
        exists but belongs to the platform (403 `permission_denied`)."""
        self.require_visible_to(org_id)
        if self.kind is ModelKind.BASE:
            raise PermissionDeniedError(
                "Base models belong to the platform's catalog; an organization cannot change "
                "or delete them.")

    # -- commands ---------------------------------------------------------------------------

    def update(self, *, by_org: UUID, name: str | None, description: str | None,
               metadata: dict[str, str] | None, cause: Cause) -> None:
        self.require_changeable_by(by_org)
        require(self.status, self.kind, "update")
        new_name = self.name if name is None else checked_model_name(name)
        new_description = self.description if description is None else checked_text(
            description, param="description", max_length=MAX_DESCRIPTION_LENGTH)
        new_metadata = self.metadata if metadata is None else checked_metadata(metadata)
        if (new_name, new_description, new_metadata) != (
                self.name, self.description, self.metadata):
            self._updated(name=new_name, description=new_description, metadata=new_metadata,
                          context_length=self.context_length, tokenizer=self.tokenizer,
                          capabilities=self.capabilities.as_dict(), cause=cause)

    def revise_base(self, *, description: str, context_length: int, tokenizer: str,
                    capabilities: Capabilities, cause: Cause) -> bool:
        """The catalog changed this entry; records nothing (False) when nothing differs."""
        if self.kind is not ModelKind.BASE:
            raise PermissionDeniedError("Only base models are revised from the catalog.")
        require(self.status, self.kind, "update")
        new = (checked_text(description, param="description", max_length=MAX_DESCRIPTION_LENGTH),
               checked_context_length(context_length), _checked_tokenizer(tokenizer),
               capabilities)
        if new == (self.description, self.context_length, self.tokenizer, self.capabilities):
            return False
        self._updated(name=self.name, description=new[0], metadata=self.metadata,
                      context_length=new[1], tokenizer=new[2],
                      capabilities=capabilities.as_dict(), cause=cause)
        return True

    @event("Updated", topic="bitstride.catalog.Model.Updated")
    def _updated(self, *, name: str, description: str, metadata: dict[str, str],
                 context_length: int, tokenizer: str, capabilities: dict[str, Any],
                 cause: Cause) -> None:
        self.name, self.description, self.metadata = name, description, dict(metadata)
        self.context_length, self.tokenizer = context_length, tokenizer
        self.capabilities = Capabilities.from_dict(capabilities)
        self.last_cause = cause

    def delete(self, *, by_org: UUID, cause: Cause) -> None:
        self.require_changeable_by(by_org)
        require(self.status, self.kind, "delete")
        self._deleted(cause=cause)

    @event("Deleted", topic="bitstride.catalog.Model.Deleted")
    def _deleted(self, cause: Cause) -> None:
        self.status, self.last_cause = ModelStatus.DELETED, cause


def _checked_tokenizer(value: str) -> str:
    tokenizer = value.strip()
    if not 1 <= len(tokenizer) <= MAX_TOKENIZER_LENGTH:
        raise ValidationFailedError(
            f"'tokenizer' must be 1 to {MAX_TOKENIZER_LENGTH} characters long.",
            param="tokenizer")
    return tokenizer
