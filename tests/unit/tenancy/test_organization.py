"""Organization aggregate rules, without I/O: open, update within bounds, owner-only delete."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.shared.cause import Cause
from domain.shared.errors import (
    InvalidStateTransitionError,
    PermissionDeniedError,
    ValidationFailedError,
)
from domain.tenancy.ids import personal_organization_id
from domain.tenancy.lifecycle import Lifecycle
from domain.tenancy.organization import Organization

CAUSE = Cause(actor_id="user_1", request_id="req_1")


def open_org(name: str = "Acme", owner: UUID | None = None) -> Organization:
    org = Organization.open_personal(owner or uuid4(), name, CAUSE)
    org.collect_events()
    return org


def snapshot(org: Organization) -> tuple[object, ...]:
    return org.version, org.name, dict(org.settings), org.state


# -- open ----------------------------------------------------------------------------------


def test_open_personal_derives_the_id_from_the_owner() -> None:
    owner = uuid4()
    first = Organization.open_personal(owner, "Acme", CAUSE)
    second = Organization.open_personal(owner, "Other name", CAUSE)
    assert first.id == second.id == personal_organization_id(owner)
    assert Organization.open_personal(uuid4(), "Acme", CAUSE).id != first.id


def test_open_personal_records_one_created_event_with_the_cause() -> None:
    owner = uuid4()
    org = Organization.open_personal(owner, "  Acme  ", CAUSE)
    assert (org.name, org.owner_user_id, org.settings, org.state) == (
        "Acme", owner, {}, Lifecycle.ACTIVE)
    assert org.version == 1
    assert org.allowed_actions == ("update", "delete")
    assert org.last_cause == CAUSE
    events = org.collect_events()
    assert [type(e).__name__ for e in events] == ["Created"]
    assert events[0].cause == CAUSE  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "x" * 101, " " + "x" * 101])
def test_open_personal_rejects_names_out_of_bounds(name: str) -> None:
    with pytest.raises(ValidationFailedError) as info:
        Organization.open_personal(uuid4(), name, CAUSE)
    assert info.value.param == "name"


@pytest.mark.parametrize("name", ["x", "x" * 100, "  " + "x" * 100 + "  "])
def test_open_personal_accepts_names_of_1_to_100_characters_after_strip(name: str) -> None:
    assert Organization.open_personal(uuid4(), name, CAUSE).name == name.strip()


# -- update --------------------------------------------------------------------------------


def test_update_name_and_settings_records_one_updated_event() -> None:
    org = open_org()
    later = Cause(actor_id="user_2")
    org.update(name="  Renamed ", settings={"region": "eu"}, cause=later)
    assert (org.name, org.settings, org.version, org.last_cause) == (
        "Renamed", {"region": "eu"}, 2, later)
    assert [type(e).__name__ for e in org.collect_events()] == ["Updated"]


def test_update_of_one_field_keeps_the_other() -> None:
    org = open_org("Acme")
    org.update(name=None, settings={"a": "1"}, cause=CAUSE)
    org.update(name="Beta", settings=None, cause=CAUSE)
    assert (org.name, org.settings, org.version) == ("Beta", {"a": "1"}, 3)


def test_settings_are_copied_not_aliased() -> None:
    org = open_org()
    settings = {"a": "1"}
    org.update(name=None, settings=settings, cause=CAUSE)
    settings["b"] = "2"
    assert org.settings == {"a": "1"}


@pytest.mark.parametrize(("name", "settings"), [
    (None, None),
    ("Acme", None),
    ("  Acme  ", None),
    (None, {}),
    ("Acme", {}),
])
def test_update_without_a_change_records_no_event(name: str | None,
                                                  settings: dict[str, str] | None) -> None:
    org = open_org("Acme")
    org.update(name=name, settings=settings, cause=CAUSE)
    assert org.version == 1
    assert org.collect_events() == []


def test_update_with_the_same_settings_records_no_event() -> None:
    org = open_org()
    org.update(name=None, settings={"a": "1"}, cause=CAUSE)
    org.collect_events()
    org.update(name=None, settings={"a": "1"}, cause=CAUSE)
    assert org.collect_events() == []


@pytest.mark.parametrize(("name", "settings", "param"), [
    ("", None, "name"),
    ("   ", None, "name"),
    ("x" * 101, None, "name"),
    (None, {f"k{i}": "v" for i in range(17)}, "settings"),
    (None, {"": "v"}, "settings."),
    (None, {"k" * 65: "v"}, "settings." + "k" * 64),
    (None, {"k": "v" * 513}, "settings.k"),
    ("Valid", {"k": "v" * 513}, "settings.k"),  # all or nothing
])
def test_update_rejects_values_out_of_bounds_and_changes_nothing(
        name: str | None, settings: dict[str, str] | None, param: str) -> None:
    org = open_org("Acme")
    before = snapshot(org)
    with pytest.raises(ValidationFailedError) as info:
        org.update(name=name, settings=settings, cause=CAUSE)
    assert info.value.param == param
    assert info.value.code == "invalid_value"
    assert snapshot(org) == before
    assert org.collect_events() == []


def test_update_accepts_settings_at_the_bounds() -> None:
    org = open_org()
    settings = {f"k{i}": "v" * 512 for i in range(15)} | {"k" * 64: ""}
    org.update(name=None, settings=settings, cause=CAUSE)
    assert org.settings == settings


# -- delete --------------------------------------------------------------------------------


def test_owner_deletes_with_the_exact_name() -> None:
    owner = uuid4()
    org = open_org("Acme", owner)
    org.delete(actor_user_id=owner, confirm_name="Acme", cause=CAUSE)
    assert org.state is Lifecycle.DELETED
    assert org.allowed_actions == ()
    assert org.version == 2
    events = org.collect_events()
    assert len(events) == 1
    assert isinstance(events[0], Organization.Deleted)
    assert events[0].cause == CAUSE


@pytest.mark.parametrize("actor", [uuid4(), None], ids=["another-user", "api-key"])
def test_only_the_owner_may_delete(actor: UUID | None) -> None:
    org = open_org("Acme")
    with pytest.raises(PermissionDeniedError) as info:
        org.delete(actor_user_id=actor, confirm_name="Acme", cause=CAUSE)
    assert info.value.code == "permission_denied"
    assert org.state is Lifecycle.ACTIVE
    assert org.collect_events() == []


@pytest.mark.parametrize("confirm", ["", "acme", "ACME", " Acme", "Acme ", "Acm"])
def test_delete_needs_the_exact_name_as_confirm(confirm: str) -> None:
    owner = uuid4()
    org = open_org("Acme", owner)
    with pytest.raises(ValidationFailedError) as info:
        org.delete(actor_user_id=owner, confirm_name=confirm, cause=CAUSE)
    assert info.value.param == "confirm"
    assert org.state is Lifecycle.ACTIVE
    assert org.collect_events() == []


def test_delete_confirms_against_the_current_name() -> None:
    owner = uuid4()
    org = open_org("Acme", owner)
    org.update(name="Beta", settings=None, cause=CAUSE)
    with pytest.raises(ValidationFailedError):
        org.delete(actor_user_id=owner, confirm_name="Acme", cause=CAUSE)
    org.delete(actor_user_id=owner, confirm_name="Beta", cause=CAUSE)
    assert org.state is Lifecycle.DELETED


@pytest.mark.parametrize("command", ["update", "delete"])
def test_every_command_after_delete_is_an_invalid_transition(command: str) -> None:
    owner = uuid4()
    org = open_org("Acme", owner)
    org.delete(actor_user_id=owner, confirm_name="Acme", cause=CAUSE)
    org.collect_events()
    before = snapshot(org)
    with pytest.raises(InvalidStateTransitionError) as info:
        if command == "update":
            org.update(name="New", settings=None, cause=CAUSE)
        else:
            org.delete(actor_user_id=owner, confirm_name="Acme", cause=CAUSE)
    assert (info.value.action, info.value.state, info.value.allowed_actions) == (
        command, "deleted", ())
    assert info.value.code == "invalid_state_transition"
    assert snapshot(org) == before
    assert org.collect_events() == []


def test_the_state_check_comes_before_validation_after_delete() -> None:
    owner = uuid4()
    org = open_org("Acme", owner)
    org.delete(actor_user_id=owner, confirm_name="Acme", cause=CAUSE)
    with pytest.raises(InvalidStateTransitionError):
        org.update(name="", settings=None, cause=CAUSE)
    with pytest.raises(InvalidStateTransitionError):
        org.delete(actor_user_id=None, confirm_name="wrong", cause=CAUSE)


def test_replaying_the_events_rebuilds_an_equal_organization() -> None:
    owner = uuid4()
    org = Organization.open_personal(owner, "Acme", CAUSE)
    org.update(name="Beta", settings={"a": "1"}, cause=CAUSE)
    org.delete(actor_user_id=owner, confirm_name="Beta", cause=CAUSE)
    rebuilt = None
    for domain_event in org.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert rebuilt == org
    assert isinstance(rebuilt, Organization)
    assert rebuilt.version == 3
