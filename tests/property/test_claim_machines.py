"""Stateful properties of the two small aggregates with a life cycle of their own.

ProjectNameClaim: held by at most one project; only the holder releases it; a released name
can be claimed again. OrganizationAccess: once closed it stays closed and admits no session.
Both: replaying the collected events rebuilds an equal aggregate.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.identity.errors import OrganizationDeletedError
from domain.identity.organization import OrganizationAccess
from domain.shared.cause import SYSTEM
from domain.shared.errors import NameTakenError
from domain.tenancy.name_claim import ProjectNameClaim

HOLDERS = [uuid4() for _ in range(3)]


def replayed(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class NameClaimMachine(RuleBasedStateMachine):
    @initialize(first=st.sampled_from(HOLDERS))
    def claim_first(self, first: UUID) -> None:
        self.claim = ProjectNameClaim(org_id=uuid4(), name="Alpha", holder=first)
        self.holder: UUID | None = first
        self.events = self.claim.collect_events()

    @rule(holder=st.sampled_from(HOLDERS))
    def claim(self, holder: UUID) -> None:
        if self.holder not in (None, holder):
            with pytest.raises(NameTakenError):
                self.claim.claim(holder)
        else:
            self.claim.claim(holder)
            self.holder = holder
        self.events += self.claim.collect_events()

    @rule(holder=st.sampled_from(HOLDERS))
    def release(self, holder: UUID) -> None:
        self.claim.release(holder)
        if holder == self.holder:
            self.holder = None
        self.events += self.claim.collect_events()

    @invariant()
    def holder_matches_the_model(self) -> None:
        assert self.claim.holder == self.holder

    @invariant()
    def replay_rebuilds_an_equal_claim(self) -> None:
        rebuilt = replayed(self.events)
        assert (rebuilt.holder, rebuilt.version) == (self.claim.holder, self.claim.version)
        assert self.claim.version == len(self.events)


class OrganizationAccessMachine(RuleBasedStateMachine):
    @initialize()
    def open_access(self) -> None:
        self.access = OrganizationAccess(org_id=uuid4())
        self.sessions: list[UUID] = []
        self.closed = False
        self.now = 0.0
        self.events = self.access.collect_events()

    @rule(lifetime=st.floats(min_value=1.0, max_value=100.0))
    def add_session(self, lifetime: float) -> None:
        session_id = uuid4()
        if self.closed:
            with pytest.raises(OrganizationDeletedError):
                self.access.add_session(session_id, self.now + lifetime)
        else:
            self.access.add_session(session_id, self.now + lifetime)
            self.sessions.append(session_id)
        self.events += self.access.collect_events()

    @rule(dt=st.floats(min_value=0.0, max_value=50.0))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def close(self) -> None:
        self.access.close(self.now, SYSTEM)
        self.closed = True
        self.events += self.access.collect_events()

    @invariant()
    def closed_stays_closed(self) -> None:
        assert self.access.is_closed == self.closed

    @invariant()
    def live_sessions_are_known_ones(self) -> None:
        assert set(self.access.sessions_alive_after(self.now)) <= set(self.sessions)

    @invariant()
    def replay_rebuilds_an_equal_access(self) -> None:
        rebuilt = replayed(self.events)
        assert rebuilt.is_closed == self.access.is_closed
        assert rebuilt.version == self.access.version == len(self.events)
        assert rebuilt.sessions_alive_after(self.now) == self.access.sessions_alive_after(self.now)


TestNameClaimMachine = NameClaimMachine.TestCase
TestNameClaimMachine.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
TestOrganizationAccessMachine = OrganizationAccessMachine.TestCase
TestOrganizationAccessMachine.settings = settings(max_examples=100, stateful_step_count=20,
                                                  deadline=None)
