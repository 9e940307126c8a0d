"""The Model aggregate: registration rules, kinds, names, updates and deletion."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.catalog.model import Model, base_model_id
from domain.catalog.name_claim import ModelNameClaim
from domain.catalog.status import ModelKind, ModelStatus
from domain.catalog.values import Capabilities, DatasetVersionRef, Lineage
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import (
    NameTakenError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)

CAUSE = Cause(actor_id="user_1")
FULL = Capabilities.of(["rl", "supervised"], serving=True)


def base(name: str = "tiny-1b", context_length: int = 8192) -> Model:
    return Model.register_base(name=name, description="", context_length=context_length,
                               tokenizer="org/tiny", capabilities=FULL, cause=SYSTEM)


def org_model(org=None, **fields) -> Model:
    values = {"org_id": org or uuid4(), "name": "my-ft", "base": base(),
              "weights_uri": "s3://bucket/w", "context_length": None, "description": "",
              "metadata": {}, "request_fingerprint": "f", "cause": CAUSE, **fields}
    return Model.register(**values)


def test_a_base_model_id_follows_from_its_name() -> None:
    model = base("tiny-1b")
    assert model.id == base_model_id("tiny-1b")
    assert (model.kind, model.org_id, model.status) == (ModelKind.BASE, None, ModelStatus.ACTIVE)
    assert model.allowed_actions == ()


def test_an_org_model_inherits_tokenizer_capabilities_and_context_length() -> None:
    org = uuid4()
    model = org_model(org)
    assert (model.kind, model.org_id) == (ModelKind.ORGANIZATION, org)
    assert (model.tokenizer, model.capabilities, model.context_length) == (
        "org/tiny", FULL, 8192)
    assert model.lineage == Lineage(base_model_id=base_model_id("tiny-1b"))
    assert model.allowed_actions == ("update", "delete")


def test_lineage_records_job_and_dataset_versions() -> None:
    ds = uuid4()
    model = org_model(job_id="ftjob_1", dataset_versions=[DatasetVersionRef(ds, 3)])
    assert model.lineage is not None
    assert Lineage.from_dict(model.lineage.as_dict()) == model.lineage
    assert model.lineage.dataset_versions == (DatasetVersionRef(ds, 3),)


def test_context_length_may_not_exceed_the_base() -> None:
    assert org_model(context_length=4096).context_length == 4096
    with pytest.raises(ValidationFailedError) as error:
        org_model(context_length=8193)
    assert error.value.param == "context_length"


def test_only_a_base_model_can_be_a_base() -> None:
    with pytest.raises(ValidationFailedError):
        org_model(base=org_model())


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-lead", "x" * 101,
                                  "model_" + "a" * 32])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailedError):
        org_model(name=name)


@pytest.mark.parametrize("uri", ["", "bucket/w", "s3://", "s3://a b"])
def test_weights_uri_must_be_a_uri(uri: str) -> None:
    with pytest.raises(ValidationFailedError):
        org_model(weights_uri=uri)


def test_unknown_training_methods_are_refused() -> None:
    with pytest.raises(ValidationFailedError):
        Capabilities.of(["supervised", "magic"], serving=False)
    assert Capabilities.of(["rl", "dpo"], serving=False).training == ("dpo", "rl")


def test_update_records_only_changes() -> None:
    org = uuid4()
    model = org_model(org)
    model.collect_events()
    model.update(by_org=org, name=None, description=None, metadata=None, cause=CAUSE)
    assert model.collect_events() == []
    model.update(by_org=org, name="renamed", description="d", metadata={"k": "v"}, cause=CAUSE)
    assert [type(e).__name__ for e in model.collect_events()] == ["Updated"]
    assert (model.name, model.description, model.metadata) == ("renamed", "d", {"k": "v"})


def test_another_org_sees_nothing() -> None:
    model = org_model()
    stranger = uuid4()
    assert not model.visible_to(stranger)
    with pytest.raises(NotFoundError):
        model.update(by_org=stranger, name="x", description=None, metadata=None, cause=CAUSE)
    with pytest.raises(NotFoundError):
        model.delete(by_org=stranger, cause=CAUSE)


def test_organizations_cannot_change_or_delete_base_models() -> None:
    model = base()
    org = uuid4()
    assert model.visible_to(org)
    with pytest.raises(PermissionDeniedError):
        model.update(by_org=org, name="x", description=None, metadata=None, cause=CAUSE)
    with pytest.raises(PermissionDeniedError):
        model.delete(by_org=org, cause=CAUSE)


def test_the_catalog_revises_a_base_model_only_when_it_changed() -> None:
    model = base()
    model.collect_events()
    assert not model.revise_base(description="", context_length=8192, tokenizer="org/tiny",
                                 capabilities=FULL, cause=SYSTEM)
    assert model.revise_base(description="", context_length=16384, tokenizer="org/tiny",
                             capabilities=FULL, cause=SYSTEM)
    assert model.context_length == 16384
    with pytest.raises(PermissionDeniedError):
        org_model().revise_base(description="", context_length=1, tokenizer="t",
                                capabilities=FULL, cause=SYSTEM)


def test_deleted_is_terminal_and_invisible() -> None:
    org = uuid4()
    model = org_model(org)
    model.delete(by_org=org, cause=CAUSE)
    assert model.status is ModelStatus.DELETED and model.allowed_actions == ()
    with pytest.raises(NotFoundError):
        model.delete(by_org=org, cause=CAUSE)


def test_every_event_carries_its_cause() -> None:
    org = uuid4()
    model = org_model(org)
    model.update(by_org=org, name="n2", description=None, metadata=None, cause=CAUSE)
    model.delete(by_org=org, cause=CAUSE)
    assert all(event.cause == CAUSE for event in model.collect_events())


def test_a_name_claim_is_held_until_released() -> None:
    holder, other = uuid4(), uuid4()
    claim = ModelNameClaim(scope="base", name="Tiny", holder=holder)
    assert claim.id == ModelNameClaim.claim_id("base", "tiny")
    claim.claim(holder)
    with pytest.raises(NameTakenError):
        claim.claim(other)
    claim.release(other)
    assert claim.holder == holder
    claim.release(holder)
    claim.claim(other)
    assert claim.holder == other
