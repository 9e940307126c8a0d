"""Random command sequences on a base and an organization's Model never reach a bad state.

Invariants: the status is one the table knows; deleted is terminal; no organization ever
changes a base model (only the catalog's revisions do); allowed_actions matches the table;
replaying the events rebuilds an equal model.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.catalog.model import Model
from domain.catalog.status import ModelKind, ModelStatus, allowed_actions
from domain.catalog.values import Capabilities
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import DomainError, NotFoundError, PermissionDeniedError

CAUSE = Cause(actor_id="user_1")
NAMES = st.sampled_from(["a", "b-2", "c.3", "bad name", ""])
TRAINING = st.lists(st.sampled_from(["supervised", "dpo", "rl"]), unique=True)


def snapshot(model: Model) -> tuple[Any, ...]:
    return (model.name, model.description, model.metadata, model.context_length,
            model.tokenizer, model.capabilities, model.weights_uri, model.lineage,
            model.status, model.kind, model.org_id, model.version)


class ModelMachine(RuleBasedStateMachine):
    @initialize()
    def create(self) -> None:
        self.org, self.stranger = uuid4(), uuid4()
        self.base = Model.register_base(
            name="tiny", description="", context_length=4096, tokenizer="t",
            capabilities=Capabilities.of(["supervised"], serving=True), cause=SYSTEM)
        self.own = Model.register(
            org_id=self.org, name="mine", base=self.base, weights_uri="s3://b/w",
            context_length=None, description="", metadata={}, request_fingerprint="f",
            cause=CAUSE)
        self.events: dict[str, list[Any]] = {"base": self.base.collect_events(),
                                             "own": self.own.collect_events()}
        self.catalog_state = snapshot(self.base)
        self.was_deleted = False

    def _model(self, which: str) -> Model:
        return self.base if which == "base" else self.own

    def _attempt(self, which: str, command: Any) -> None:
        model = self._model(which)
        before = snapshot(model)
        try:
            command(model)
        except DomainError:
            assert snapshot(model) == before  # a refused command changes nothing
        self.events[which] += model.collect_events()

    @rule(which=st.sampled_from(["base", "own"]), stranger=st.booleans(), name=NAMES,
          description=st.none() | st.text(max_size=5))
    def update(self, which: str, stranger: bool, name: str, description: str | None) -> None:
        org = self.stranger if stranger else self.org
        self._attempt(which, lambda m: m.update(by_org=org, name=name, description=description,
                                                metadata=None, cause=CAUSE))

    @rule(which=st.sampled_from(["base", "own"]), stranger=st.booleans())
    def delete(self, which: str, stranger: bool) -> None:
        org = self.stranger if stranger else self.org
        self._attempt(which, lambda m: m.delete(by_org=org, cause=CAUSE))

    @rule(context_length=st.integers(1, 10_000), training=TRAINING, serving=st.booleans())
    def catalog_revision(self, context_length: int, training: list[str], serving: bool) -> None:
        capabilities = Capabilities.of(training, serving)
        self.base.revise_base(description="", context_length=context_length, tokenizer="t",
                              capabilities=capabilities, cause=SYSTEM)
        self.events["base"] += self.base.collect_events()
        self.catalog_state = snapshot(self.base)

    @invariant()
    def base_models_change_only_from_the_catalog(self) -> None:
        assert snapshot(self.base) == self.catalog_state
        assert self.base.status is ModelStatus.ACTIVE and self.base.allowed_actions == ()
        for org in (self.org, self.stranger):
            with pytest.raises(PermissionDeniedError):
                self.base.require_changeable_by(org)

    @invariant()
    def deleted_is_terminal(self) -> None:
        if self.was_deleted:
            assert self.own.status is ModelStatus.DELETED
            with pytest.raises(NotFoundError):
                self.own.require_changeable_by(self.org)
        self.was_deleted = self.own.status is ModelStatus.DELETED
        assert self.own.allowed_actions == allowed_actions(self.own.status, ModelKind.ORGANIZATION)
        assert not self.own.visible_to(self.stranger)

    @invariant()
    def replay_rebuilds_an_equal_model(self) -> None:
        for which, events in self.events.items():
            rebuilt = None
            for event in events:
                rebuilt = event.mutate(rebuilt)
            assert rebuilt is not None
            assert snapshot(rebuilt) == snapshot(self._model(which))
            assert rebuilt.version == len(events)


TestModelMachine = ModelMachine.TestCase
TestModelMachine.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
