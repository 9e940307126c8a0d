"""The Dataset aggregate's rules, without I/O."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.datasets.dataset import Dataset
from domain.datasets.status import DatasetStatus
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import (
    InvalidStateTransitionError,
    NotFoundError,
    ValidationFailedError,
)

ORG = uuid4()


def new_dataset(purpose: str = "fine_tuning", data_format: str = "chat",
                cause: Cause = SYSTEM) -> Dataset:
    return Dataset.create(org_id=ORG, project_id=None, name=" train ", description="",
                          purpose=purpose, data_format=data_format, metadata={"k": "v"},
                          request_fingerprint="f", cause=cause)


def upload(dataset: Dataset, sha: str = "a" * 64) -> int:
    return dataset.record_upload(sha256=sha, size=10, lines=2, object_key=f"k/{sha}",
                                 uploaded_at=5.0, cause=SYSTEM).number


def test_created_with_a_trimmed_name_and_nothing_uploaded() -> None:
    dataset = new_dataset()
    assert (dataset.name, dataset.status, dataset.versions) == ("train", DatasetStatus.CREATED, ())
    assert dataset.allowed_actions == ("update", "upload", "delete")


@pytest.mark.parametrize(("purpose", "data_format", "param"), [
    ("pretraining", "chat", "purpose"),
    ("fine_tuning", "prompt", "format"),
    ("rl", "chat", "format"),
])
def test_purpose_and_format_must_fit(purpose: str, data_format: str, param: str) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        new_dataset(purpose, data_format)
    assert raised.value.param == param


def test_rl_prompt_and_dpo_preference_datasets_are_accepted() -> None:
    assert new_dataset("rl", "prompt").data_format == "prompt"
    assert new_dataset("fine_tuning", "preference").data_format == "preference"


def test_a_keyed_create_always_lands_on_the_same_id() -> None:
    keyed = Cause(actor_id="user_1", idempotency_key="k1")
    assert new_dataset(cause=keyed).id == new_dataset(cause=keyed).id
    assert new_dataset().id != new_dataset().id


def test_each_new_content_is_a_new_version_and_old_ones_stay() -> None:
    dataset = new_dataset()
    assert upload(dataset, "a" * 64) == 1
    first = dataset.current_version
    assert upload(dataset, "b" * 64) == 2
    assert dataset.find_version(1) == first
    assert upload(dataset, "b" * 64) == 2  # the same content again changes nothing
    assert len(dataset.versions) == 2
    with pytest.raises(NotFoundError):
        dataset.find_version(3)


def test_validation_describes_the_version_it_was_asked_for() -> None:
    dataset = new_dataset()
    with pytest.raises(InvalidStateTransitionError) as raised:
        dataset.request_validation(cause=SYSTEM)
    assert raised.value.state == "created"
    upload(dataset)
    number = dataset.request_validation(cause=SYSTEM)
    with pytest.raises(InvalidStateTransitionError):
        upload(dataset, "c" * 64)  # no new version while one is being validated
    dataset.complete_validation(version=number, valid=False, report={"errors": 3}, cause=SYSTEM)
    assert (dataset.status, dataset.validated_version) == (DatasetStatus.INVALID, 1)
    upload(dataset, "d" * 64)
    assert (dataset.status, dataset.report) == (DatasetStatus.UPLOADED, None)


def test_deleted_is_terminal_and_hidden() -> None:
    dataset = new_dataset()
    dataset.delete(cause=SYSTEM)
    assert dataset.allowed_actions == ()
    with pytest.raises(NotFoundError):
        dataset.require_visible_to(ORG)
    with pytest.raises(InvalidStateTransitionError):
        dataset.update(name="x", description=None, metadata=None, cause=SYSTEM)


def test_another_organization_cannot_see_it() -> None:
    with pytest.raises(NotFoundError):
        new_dataset().require_visible_to(uuid4())
