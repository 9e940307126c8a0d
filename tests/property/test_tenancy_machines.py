"""Property tests: random update/delete sequences keep Organization's and Project's invariants.

Each machine keeps a small model (state, fields) as the oracle and checks after every step:
the state is a Lifecycle value, deleted is terminal (every later command raises
InvalidStateTransitionError and changes nothing), the version counts the events, the allowed
actions follow the transition table, and folding the collected events rebuilds an equal aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.shared.cause import Cause
from domain.shared.errors import (
    InvalidStateTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from domain.tenancy.lifecycle import ALLOWED_ACTIONS, Lifecycle
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project

CAUSE = Cause(actor_id="user_1")
MAX_DESCRIPTION_LENGTH = 2000  # the documented bound, independent of the code under test
MACHINE_SETTINGS = settings(max_examples=150, stateful_step_count=25, deadline=None)

# Inputs mix values at, inside and outside the bounds with short random text.
names = st.one_of(
    st.none(),
    st.sampled_from(["Alpha", "alpha", " Alpha ", "Beta", "", "   ", "x" * 100, "x" * 101]),
    st.text(max_size=6),
)
string_maps = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=18).map(lambda n: {f"k{i}": "v" for i in range(n)}),
    st.dictionaries(
        keys=st.one_of(st.sampled_from(["", "a", "k" * 64, "k" * 65]), st.text(max_size=3)),
        values=st.sampled_from(["", "v", "v" * 512, "v" * 513]),
        max_size=3,
    ),
)
descriptions = st.one_of(
    st.none(),
    st.sampled_from(["", "d", "d" * MAX_DESCRIPTION_LENGTH, "d" * (MAX_DESCRIPTION_LENGTH + 1)]),
    st.text(max_size=6),
)


def name_ok(name: str) -> bool:
    return 1 <= len(name.strip()) <= 100


def map_ok(values: dict[str, str]) -> bool:
    return len(values) <= 16 and all(
        1 <= len(key) <= 64 and len(value) <= 512 for key, value in values.items())


def replay(events: list[Any]) -> Aggregate | None:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class LifecycleMachine(RuleBasedStateMachine):
    """The invariants both aggregates share; subclasses add their commands and fields."""

    aggregate: Organization | Project
    events: list[Any]

    def fields(self, aggregate: Any) -> tuple[object, ...]:
        raise NotImplementedError

    def record(self) -> int:
        """Move the pending events to the log; return how many there were."""
        new = self.aggregate.collect_events()
        self.events.extend(new)
        return len(new)

    def expect_terminal(self, command: Callable[[], None], action: str) -> None:
        before = (self.aggregate.version, self.fields(self.aggregate))
        try:
            command()
        except InvalidStateTransitionError as error:
            assert (error.action, error.state, error.allowed_actions) == (action, "deleted", ())
        else:
            raise AssertionError(f"{action} succeeded on a deleted aggregate")
        assert self.record() == 0
        assert (self.aggregate.version, self.fields(self.aggregate)) == before

    @invariant()
    def state_is_a_lifecycle_value(self) -> None:
        assert self.aggregate.state in set(Lifecycle)

    @invariant()
    def version_counts_the_events(self) -> None:
        assert self.aggregate.collect_events() == []  # every rule records what it did
        assert self.aggregate.version == len(self.events)

    @invariant()
    def allowed_actions_follow_the_transition_table(self) -> None:
        expected = ("update", "delete") if self.aggregate.state is Lifecycle.ACTIVE else ()
        assert self.aggregate.allowed_actions == ALLOWED_ACTIONS[self.aggregate.state] == expected

    @invariant()
    def replay_rebuilds_an_equal_aggregate(self) -> None:
        rebuilt = replay(self.events)
        assert rebuilt is not None
        assert type(rebuilt) is type(self.aggregate)
        assert rebuilt.version == self.aggregate.version
        assert self.fields(rebuilt) == self.fields(self.aggregate)
        assert rebuilt == self.aggregate


class OrganizationMachine(LifecycleMachine):
    aggregate: Organization

    def fields(self, aggregate: Any) -> tuple[object, ...]:
        return (aggregate.id, aggregate.owner_user_id, aggregate.name, aggregate.settings,
                aggregate.state, aggregate.last_cause)

    @initialize(name=st.sampled_from(["Acme", " Acme ", "x" * 100]))
    def open(self, name: str) -> None:
        self.owner = uuid4()
        self.aggregate = Organization.open_personal(self.owner, name, CAUSE)
        self.events = []
        assert self.record() == 1
        self.deleted = False

    @rule(name=names, new_settings=string_maps)
    def update(self, name: str | None, new_settings: dict[str, str] | None) -> None:
        org = self.aggregate

        def command() -> None:
            org.update(name=name, settings=new_settings, cause=CAUSE)

        if self.deleted:
            self.expect_terminal(command, "update")
            return
        valid = (name is None or name_ok(name)) and (new_settings is None or map_ok(new_settings))
        expected_name = org.name if name is None or not valid else name.strip()
        expected_settings = org.settings if new_settings is None or not valid else new_settings
        changes = (expected_name, expected_settings) != (org.name, org.settings)
        try:
            command()
        except ValidationFailedError:
            assert not valid
        else:
            assert valid
        assert self.record() == int(changes)
        assert (org.name, org.settings) == (expected_name, expected_settings)

    @rule(actor=st.sampled_from(["owner", "stranger", "api-key"]),
          confirm=st.sampled_from(["exact", "upper", "padded", "empty"]))
    def delete(self, actor: str, confirm: str) -> None:
        org = self.aggregate
        actor_user_id: UUID | None = {"owner": self.owner, "stranger": uuid4(),
                                      "api-key": None}[actor]
        confirm_name = {"exact": org.name, "upper": org.name.upper(), "padded": f" {org.name}",
                        "empty": ""}[confirm]

        def command() -> None:
            org.delete(actor_user_id=actor_user_id, confirm_name=confirm_name, cause=CAUSE)

        if self.deleted:
            self.expect_terminal(command, "delete")
            return
        try:
            command()
        except PermissionDeniedError:
            assert actor != "owner"
        except ValidationFailedError as error:
            assert actor == "owner"
            assert confirm_name != org.name
            assert error.param == "confirm"
        else:
            assert actor == "owner"
            assert confirm_name == org.name
            self.deleted = True
        assert self.record() == int(self.deleted)  # only a successful delete writes
        assert org.state is (Lifecycle.DELETED if self.deleted else Lifecycle.ACTIVE)

    @invariant()
    def deleted_matches_the_model(self) -> None:
        assert (self.aggregate.state is Lifecycle.DELETED) == self.deleted


class ProjectMachine(LifecycleMachine):
    aggregate: Project

    def fields(self, aggregate: Any) -> tuple[object, ...]:
        return (aggregate.id, aggregate.org_id, aggregate.name, aggregate.description,
                aggregate.metadata, aggregate.state, aggregate.request_fingerprint,
                aggregate.idempotency_key, aggregate.last_cause)

    @initialize(key=st.sampled_from([None, "key-1"]))
    def create(self, key: str | None) -> None:
        self.org_id = uuid4()
        cause = Cause(actor_id="user_1", idempotency_key=key)
        self.aggregate = Project.create(org_id=self.org_id, name="Alpha", description="",
                                        metadata={}, request_fingerprint="fp", cause=cause)
        self.events = []
        assert self.record() == 1
        self.deleted = False

    @rule(name=names, description=descriptions, metadata=string_maps)
    def update(self, name: str | None, description: str | None,
               metadata: dict[str, str] | None) -> None:
        project = self.aggregate

        def command() -> None:
            project.update(name=name, description=description, metadata=metadata, cause=CAUSE)

        if self.deleted:
            self.expect_terminal(command, "update")
            return
        valid = ((name is None or name_ok(name))
                 and (description is None or len(description) <= MAX_DESCRIPTION_LENGTH)
                 and (metadata is None or map_ok(metadata)))
        current = (project.name, project.description, project.metadata)
        expected = current if not valid else (
            current[0] if name is None else name.strip(),
            current[1] if description is None else description,
            current[2] if metadata is None else metadata,
        )
        try:
            command()
        except ValidationFailedError:
            assert not valid
        else:
            assert valid
        assert self.record() == int(expected != current)
        assert (project.name, project.description, project.metadata) == expected

    @rule()
    def delete(self) -> None:
        def command() -> None:
            self.aggregate.delete(cause=CAUSE)

        if self.deleted:
            self.expect_terminal(command, "delete")
            return
        command()
        assert self.record() == 1
        self.deleted = True

    @rule(own=st.booleans())
    def look_up(self, own: bool) -> None:
        org_id = self.org_id if own else uuid4()
        try:
            self.aggregate.require_visible_to(org_id)
        except NotFoundError:
            assert self.deleted or not own
        else:
            assert own and not self.deleted

    @invariant()
    def deleted_matches_the_model(self) -> None:
        assert (self.aggregate.state is Lifecycle.DELETED) == self.deleted


OrganizationMachine.TestCase.settings = MACHINE_SETTINGS
ProjectMachine.TestCase.settings = MACHINE_SETTINGS
TestOrganizationMachine = OrganizationMachine.TestCase
TestProjectMachine = ProjectMachine.TestCase
