"""Property test: random start/refresh/reuse/revoke sequences keep the Session's invariants.

Invariants: a revoked session stays revoked; a used hash never refreshes again; and the stored
events, replayed through an application's repository, rebuild an equal aggregate.
"""

from __future__ import annotations

from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from application.shared.base import BitstrideApplication
from domain.identity.errors import InvalidRefreshTokenError
from domain.identity.session import RefreshOutcome, RevocationReason, Session
from domain.shared.cause import SYSTEM

LIFETIME = 1000.0


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = BitstrideApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.counter = 0
        self.now = 0.0
        self.used: set[str] = set()
        self.was_revoked = False

    def _fresh_hash(self) -> str:
        self.counter += 1
        return f"hash-{self.counter}"

    @initialize()
    def start(self) -> None:
        self.current = self._fresh_hash()
        self.session = Session(id=uuid4(), user_id=uuid4(), org_id=uuid4(),
                               refresh_hash=self.current, issued_at=0.0, expires_at=LIFETIME,
                               cause=SYSTEM)
        self.app.save(self.session)

    @rule(dt=st.floats(min_value=0.0, max_value=300.0))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def refresh_current(self) -> None:
        new = self._fresh_hash()
        active = not self.was_revoked and self.now < LIFETIME
        try:
            outcome = self.session.refresh(self.current, new, self.now, SYSTEM)
        except InvalidRefreshTokenError:
            assert not active
        else:
            assert active and outcome is RefreshOutcome.ROTATED
            self.used.add(self.current)
            self.current = new
        self.app.save(self.session)

    @precondition(lambda self: bool(self.used))
    @rule(data=st.data())
    def reuse_old(self, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(sorted(self.used)))
        try:
            outcome = self.session.refresh(old, self._fresh_hash(), self.now, SYSTEM)
        except InvalidRefreshTokenError:
            assert self.was_revoked
        else:
            assert outcome is RefreshOutcome.REUSE_DETECTED
            self.was_revoked = True
        self.app.save(self.session)

    @rule()
    def present_unknown(self) -> None:
        revoked_before = self.session.is_revoked
        try:
            self.session.refresh("never-issued", self._fresh_hash(), self.now, SYSTEM)
        except InvalidRefreshTokenError:
            pass
        else:
            raise AssertionError("an unknown hash refreshed")
        assert self.session.is_revoked == revoked_before

    @rule(reason=st.sampled_from(list(RevocationReason)))
    def revoke(self, reason: RevocationReason) -> None:
        ended = self.session.revoke(reason, self.now, SYSTEM)
        assert ended != self.was_revoked
        self.was_revoked = True
        self.app.save(self.session)

    @invariant()
    def revoked_stays_revoked(self) -> None:
        assert self.session.is_revoked == self.was_revoked

    @invariant()
    def used_hashes_are_exactly_the_rotated_ones(self) -> None:
        assert set(self.session.used_hashes) == self.used
        assert self.session.refresh_hash == self.current
        assert self.current not in self.used

    @invariant()
    def replay_rebuilds_an_equal_aggregate(self) -> None:
        assert self.app.repository.get(self.session.id) == self.session


SessionMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30,
                                            deadline=None)
TestSessionMachine = SessionMachine.TestCase
