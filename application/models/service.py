"""Model use cases: the base catalog, and the models organizations register and own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from application.models.ports import BaseModelSpec, ModelUsage, NoModelUsage
from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome, require_version
from domain.catalog.errors import ModelInUseError
from domain.catalog.model import Model, base_model_id
from domain.catalog.name_claim import BASE_SCOPE, ModelNameClaim, name_scope
from domain.catalog.values import Capabilities, DatasetVersionRef
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import NameTakenError, NotFoundError, ValidationFailedError
from domain.shared.ids import format_id


@dataclass(frozen=True)
class NewModel:
    """The fields of a register command, as the caller sent them."""

    name: str
    base_model_id: UUID
    weights_uri: str
    context_length: int | None = None
    description: str = ""
    metadata: dict[str, str] | None = None
    job_id: str | None = None
    dataset_versions: Sequence[DatasetVersionRef] = ()


class ModelService(BitstrideApplication):
    """Base models and organizations' models. One method per command."""

    name = "Models"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # Models are written rarely (the catalog at start, registrations): a small Postgres
        # pool, so this context does not hold ten idle connections per process. An explicit
        # MODELS_POSTGRES_POOL_SIZE in the environment still wins.
        env = dict(env or {})
        env.setdefault("MODELS_POSTGRES_POOL_SIZE", "2")
        super().__init__(env)
        # Replaced by the composition root once jobs and deployments exist.
        self.usage: ModelUsage = NoModelUsage()

    # -- the base catalog -------------------------------------------------------------------

    def sync_base_catalog(self, entries: Iterable[BaseModelSpec], *,
                          cause: Cause = SYSTEM) -> int | None:
        """Create or revise each entry; an unchanged entry records nothing.

        Returns the last position written (None when the catalog was already current).
        Entries no longer in the file are kept: a base model disappears only by an explicit
        retirement, which a later issue adds.
        """
        last: int | None = None
        for spec in entries:
            position = retry_on_conflict(partial(self._sync_entry, spec, cause))
            last = position if position is not None else last
        return last

    def _sync_entry(self, spec: BaseModelSpec, cause: Cause) -> int | None:
        capabilities = Capabilities.of(spec.training, spec.serving)
        existing = self.get_or_none(base_model_id(spec.name))
        if isinstance(existing, Model):
            changed = existing.revise_base(description=spec.description,
                                           context_length=spec.context_length,
                                           tokenizer=spec.tokenizer,
                                           capabilities=capabilities, cause=cause)
            return self.last_position(self.save(existing)) if changed else None
        model = Model.register_base(name=spec.name, description=spec.description,
                                    context_length=spec.context_length,
                                    tokenizer=spec.tokenizer, capabilities=capabilities,
                                    cause=cause)
        claim = self._claim(BASE_SCOPE, model.name, model.id)
        return self.last_position(self.save(model, claim))

    # -- organizations' models --------------------------------------------------------------

    def register_model(self, org_id: UUID, new: NewModel, *, request_fingerprint: str,
                       cause: Cause) -> Outcome[Model]:
        def attempt() -> Outcome[Model]:
            base = self.get_or_none(new.base_model_id)
            if not isinstance(base, Model) or not base.visible_to(org_id):
                raise NotFoundError("No such base model.", param="base_model")
            model = Model.register(
                org_id=org_id, name=new.name, base=base, weights_uri=new.weights_uri,
                context_length=new.context_length, description=new.description,
                metadata=new.metadata or {}, request_fingerprint=request_fingerprint,
                cause=cause, job_id=new.job_id, dataset_versions=new.dataset_versions)
            if cause.idempotency_key is not None:
                earlier = self.get_or_none(model.id)
                if earlier is not None:
                    return self.replay(earlier, Model, request_fingerprint)
            self._refuse_base_name(model.name)
            claim = self._claim(name_scope(org_id), model.name, model.id)
            return Outcome(model, self.last_position(self.save(model, claim)))

        return retry_on_conflict(attempt)

    def model(self, org_id: UUID, model_id: UUID) -> Model:
        """A model the organization may see: a base model, or one of its own."""
        model = self.get_or_none(model_id)
        if not isinstance(model, Model):
            raise NotFoundError("No such model.")
        model.require_visible_to(org_id)
        return model

    def update_model(self, org_id: UUID, model_id: UUID, *, name: str | None,
                     description: str | None, metadata: dict[str, str] | None,
                     expected_version: int | None, cause: Cause) -> Outcome[Model]:
        def attempt() -> Outcome[Model]:
            model = self.model(org_id, model_id)
            model.require_changeable_by(org_id)
            require_version(model, expected_version)
            old_name = model.name
            model.update(by_org=org_id, name=name, description=description, metadata=metadata,
                         cause=cause)
            claims = []
            if model.name.casefold() != old_name.casefold():
                self._refuse_base_name(model.name)
                scope = name_scope(org_id)
                claims = [self._claim(scope, model.name, model.id),
                          self._released(scope, old_name, model.id)]
            return Outcome(model, self.last_position(self.save(model, *claims)))

        return retry_on_conflict(attempt)

    def delete_model(self, org_id: UUID, model_id: UUID, *, expected_version: int | None,
                     cause: Cause) -> Outcome[Model]:
        def attempt() -> Outcome[Model]:
            model = self.model(org_id, model_id)
            model.require_changeable_by(org_id)
            require_version(model, expected_version)
            users = self.usage.users_of(model.id)
            if users:
                raise ModelInUseError(format_id("model", model.id), users)
            model.delete(by_org=org_id, cause=cause)
            claim = self._released(name_scope(org_id), model.name, model.id)
            return Outcome(model, self.last_position(self.save(model, claim)))

        return retry_on_conflict(attempt)

    # -- names ------------------------------------------------------------------------------

    def _refuse_base_name(self, name: str) -> None:
        """An organization's model may not shadow a base model: names must resolve to one
        model. (A catalog entry added later with an org's name is resolved org-first.)"""
        claim = self.get_or_none(ModelNameClaim.claim_id(BASE_SCOPE, name))
        if isinstance(claim, ModelNameClaim) and claim.holder is not None:
            raise NameTakenError(f"{name!r} is the name of a base model.", param="name")

    def _claim(self, scope: str, name: str, holder: UUID) -> ModelNameClaim:
        claim = self.get_or_none(ModelNameClaim.claim_id(scope, name))
        if claim is None:
            return ModelNameClaim(scope=scope, name=name, holder=holder)
        if not isinstance(claim, ModelNameClaim):
            raise ValidationFailedError("That name cannot be used.", param="name")
        claim.claim(holder)
        return claim

    def _released(self, scope: str, name: str, holder: UUID) -> ModelNameClaim:
        claim = self.get_or_none(ModelNameClaim.claim_id(scope, name))
        assert isinstance(claim, ModelNameClaim)
        claim.release(holder)
        return claim
