"""Project and ProjectNameClaim aggregate rules, without I/O."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.shared.cause import Cause
from domain.shared.errors import (
    InvalidStateTransitionError,
    NameTakenError,
    NotFoundError,
    ValidationFailedError,
)
from domain.tenancy.lifecycle import Lifecycle
from domain.tenancy.name_claim import ProjectNameClaim
from domain.tenancy.project import Project

CAUSE = Cause(actor_id="user_1", request_id="req_1")
ORG = UUID("00000000-0000-4000-8000-000000000001")
MAX_DESCRIPTION_LENGTH = 2000  # the documented bound
OTHER_ORG = UUID("00000000-0000-4000-8000-000000000002")


def create(**overrides: Any) -> Project:
    values: dict[str, Any] = {"org_id": ORG, "name": "Alpha", "description": "",
                              "metadata": {}, "request_fingerprint": "fp", "cause": CAUSE}
    values.update(overrides)
    return Project.create(**values)


def created(**overrides: Any) -> Project:
    project = create(**overrides)
    project.collect_events()
    return project


def snapshot(project: Project) -> tuple[object, ...]:
    return (project.version, project.name, project.description, dict(project.metadata),
            project.state)


# -- create --------------------------------------------------------------------------------


def test_create_records_the_checked_values() -> None:
    project = create(name="  Alpha ", description="first", metadata={"team": "ml"})
    assert (project.org_id, project.name, project.description, project.metadata) == (
        ORG, "Alpha", "first", {"team": "ml"})
    assert (project.state, project.version, project.allowed_actions) == (
        Lifecycle.ACTIVE, 1, ("update", "delete"))
    assert (project.request_fingerprint, project.last_cause) == ("fp", CAUSE)
    assert project.idempotency_key is None
    assert [type(e).__name__ for e in project.collect_events()] == ["Created"]


def test_create_records_the_idempotency_key_of_the_cause() -> None:
    cause = Cause(actor_id="user_1", idempotency_key="key-1")
    assert create(cause=cause).idempotency_key == "key-1"


def test_keyed_create_id_is_deterministic_per_organization_and_key() -> None:
    keyed = Cause(actor_id="user_1", idempotency_key="key-1")
    first = create(cause=keyed)
    assert create(cause=keyed, name="Other", description="x").id == first.id
    assert Project.create_id(ORG, "key-1") == first.id
    assert create(cause=keyed, org_id=OTHER_ORG).id != first.id
    assert create(cause=Cause(actor_id="user_1", idempotency_key="key-2")).id != first.id


def test_unkeyed_creates_get_fresh_ids() -> None:
    assert create().id != create().id


@pytest.mark.parametrize(("overrides", "param"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"description": "d" * (MAX_DESCRIPTION_LENGTH + 1)}, "description"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"": "v"}}, "metadata."),
    ({"metadata": {"k" * 65: "v"}}, "metadata." + "k" * 64),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
])
def test_create_rejects_values_out_of_bounds(overrides: dict[str, Any], param: str) -> None:
    with pytest.raises(ValidationFailedError) as info:
        create(**overrides)
    assert info.value.param == param


def test_create_accepts_values_at_the_bounds() -> None:
    metadata = {f"k{i}": "v" * 512 for i in range(15)} | {"k" * 64: ""}
    project = create(name="x" * 100, description="d" * MAX_DESCRIPTION_LENGTH,
                     metadata=metadata)
    assert (len(project.name), len(project.description), project.metadata) == (
        100, MAX_DESCRIPTION_LENGTH, metadata)


def test_metadata_is_copied_not_aliased() -> None:
    metadata = {"a": "1"}
    project = create(metadata=metadata)
    metadata["b"] = "2"
    assert project.metadata == {"a": "1"}


# -- update --------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields() -> None:
    project = created(name="Alpha", description="first", metadata={"a": "1"})
    later = Cause(actor_id="user_2")
    project.update(name=" Beta ", description=None, metadata=None, cause=later)
    assert (project.name, project.description, project.metadata) == ("Beta", "first", {"a": "1"})
    project.update(name=None, description="second", metadata={}, cause=later)
    assert (project.name, project.description, project.metadata) == ("Beta", "second", {})
    assert (project.version, project.last_cause) == (3, later)
    assert [type(e).__name__ for e in project.collect_events()] == ["Updated", "Updated"]


@pytest.mark.parametrize(("name", "description", "metadata"), [
    (None, None, None),
    ("Alpha", "first", {"a": "1"}),
    (" Alpha ", None, None),
    (None, "first", None),
    (None, None, {"a": "1"}),
])
def test_update_without_a_change_records_no_event(
        name: str | None, description: str | None, metadata: dict[str, str] | None) -> None:
    project = created(name="Alpha", description="first", metadata={"a": "1"})
    project.update(name=name, description=description, metadata=metadata, cause=CAUSE)
    assert project.version == 1
    assert project.collect_events() == []


@pytest.mark.parametrize(("changes", "param"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"description": "d" * (MAX_DESCRIPTION_LENGTH + 1)}, "description"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"name": "Valid", "metadata": {"k" * 65: "v"}}, "metadata." + "k" * 64),
])
def test_update_rejects_values_out_of_bounds_and_changes_nothing(
        changes: dict[str, Any], param: str) -> None:
    project = created()
    before = snapshot(project)
    values: dict[str, Any] = {"name": None, "description": None, "metadata": None}
    values.update(changes)
    with pytest.raises(ValidationFailedError) as info:
        project.update(**values, cause=CAUSE)
    assert info.value.param == param
    assert snapshot(project) == before
    assert project.collect_events() == []


# -- delete and visibility -----------------------------------------------------------------


def test_delete_ends_the_project() -> None:
    project = created()
    project.delete(cause=CAUSE)
    assert (project.state, project.allowed_actions, project.version) == (
        Lifecycle.DELETED, (), 2)
    assert [type(e).__name__ for e in project.collect_events()] == ["Deleted"]


@pytest.mark.parametrize("command", ["update", "delete"])
def test_every_command_after_delete_is_an_invalid_transition(command: str) -> None:
    project = created()
    project.delete(cause=CAUSE)
    project.collect_events()
    before = snapshot(project)
    with pytest.raises(InvalidStateTransitionError) as info:
        if command == "update":
            project.update(name="New", description=None, metadata=None, cause=CAUSE)
        else:
            project.delete(cause=CAUSE)
    assert (info.value.action, info.value.state, info.value.allowed_actions) == (
        command, "deleted", ())
    assert snapshot(project) == before
    assert project.collect_events() == []


def test_a_project_is_visible_only_to_its_own_organization() -> None:
    project = created()
    project.require_visible_to(ORG)
    with pytest.raises(NotFoundError) as info:
        project.require_visible_to(OTHER_ORG)
    assert info.value.code == "not_found"


def test_a_deleted_project_is_visible_to_nobody() -> None:
    project = created()
    project.delete(cause=CAUSE)
    for org_id in (ORG, OTHER_ORG):
        with pytest.raises(NotFoundError):
            project.require_visible_to(org_id)


def test_replaying_the_events_rebuilds_an_equal_project() -> None:
    project = create(metadata={"a": "1"})
    project.update(name="Beta", description="d", metadata={}, cause=CAUSE)
    project.delete(cause=CAUSE)
    rebuilt = None
    for domain_event in project.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert rebuilt == project
    assert isinstance(rebuilt, Project)
    assert rebuilt.version == 3


# -- name claims ---------------------------------------------------------------------------


def test_claim_id_ignores_case_but_not_the_organization() -> None:
    ids = {ProjectNameClaim.claim_id(ORG, name) for name in ("Alpha", "ALPHA", "alpha")}
    assert len(ids) == 1
    assert ProjectNameClaim.claim_id(OTHER_ORG, "Alpha") not in ids
    assert ProjectNameClaim.claim_id(ORG, "Beta") not in ids


def test_a_new_claim_lands_on_the_claim_id() -> None:
    holder = uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=holder)
    assert claim.id == ProjectNameClaim.claim_id(ORG, "alpha")
    assert (claim.org_id, claim.name, claim.holder, claim.version) == (ORG, "Alpha", holder, 1)


def test_the_holder_claiming_again_changes_nothing() -> None:
    holder = uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=holder)
    claim.collect_events()
    claim.claim(holder)
    assert (claim.holder, claim.version) == (holder, 1)
    assert claim.collect_events() == []


def test_another_holder_cannot_claim_a_held_name() -> None:
    holder = uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=holder)
    claim.collect_events()
    with pytest.raises(NameTakenError) as info:
        claim.claim(uuid4())
    assert (info.value.param, info.value.code) == ("name", "name_taken")
    assert (claim.holder, claim.version) == (holder, 1)
    assert claim.collect_events() == []


def test_release_by_the_holder_frees_the_name_for_another() -> None:
    first, second = uuid4(), uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=first)
    claim.release(first)
    assert claim.holder is None
    claim.claim(second)
    assert (claim.holder, claim.version) == (second, 3)
    assert [type(e).__name__ for e in claim.collect_events()] == [
        "Created", "Released", "Reclaimed"]


def test_release_by_anyone_else_changes_nothing() -> None:
    holder = uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=holder)
    claim.collect_events()
    claim.release(uuid4())
    claim.release(holder)
    claim.release(holder)  # already released: no second event
    assert claim.holder is None
    assert [type(e).__name__ for e in claim.collect_events()] == ["Released"]


def test_replaying_claim_events_rebuilds_an_equal_claim() -> None:
    first, second = uuid4(), uuid4()
    claim = ProjectNameClaim(org_id=ORG, name="Alpha", holder=first)
    claim.release(first)
    claim.claim(second)
    rebuilt = None
    for domain_event in claim.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert rebuilt == claim
