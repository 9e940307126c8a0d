"""Random command sequences on MfaFactor and MfaChallenge against a simple model.

The factor: enrol → activate → use → disable; a step ≤ the last used one and a spent recovery
code are always refused; disabled stays disabled until re-enrolment. The challenge: at most 5
failures, one completion, nothing after expiry. Replaying the recorded events rebuilds both.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.identity.challenge import CHALLENGE_TTL_SECONDS, MAX_CHALLENGE_ATTEMPTS, MfaChallenge
from domain.identity.factor_errors import (
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    MfaAlreadyEnabledError,
    MfaNotEnabledError,
    MfaNotPendingError,
)
from domain.identity.mfa import FactorState, MfaFactor
from domain.shared.cause import Cause

CAUSE = Cause(actor_id="user_machine")
NOW = 1_800_000_000.0
FACTOR_ERRORS = (InvalidMfaCodeError, MfaAlreadyEnabledError, MfaNotEnabledError,
                 MfaNotPendingError)


def replayed(events: list[Any]) -> Any:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


class FactorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.factor = MfaFactor(user_id=uuid.uuid4(), sealed_secret="s0", at=NOW, cause=CAUSE)
        self.events: list[Any] = list(self.factor.collect_events())
        self.model = "pending"
        self.last_step: int | None = None
        self.unused: set[str] = set()
        self.spent: set[str] = set()
        self.batch = 0

    def _apply(self, command: Any) -> bool:
        try:
            command()
        except FACTOR_ERRORS:
            return False
        finally:
            self.events.extend(self.factor.collect_events())
        return True

    @rule()
    def enroll(self) -> None:
        ok = self._apply(lambda: self.factor.reenroll("s", NOW, CAUSE))
        assert ok == (self.model != "active")
        if ok:
            self.model, self.last_step, self.unused = "pending", None, set()

    @rule(step=st.integers(0, 50))
    def activate(self, step: int) -> None:
        self.batch += 1
        codes = [f"b{self.batch}c{i}" for i in range(10)]
        ok = self._apply(lambda: self.factor.activate(step, codes, NOW, CAUSE))
        assert ok == (self.model == "pending")
        if ok:
            self.model, self.last_step, self.unused = "active", step, set(codes)

    @rule(step=st.integers(0, 60))
    def use_totp(self, step: int) -> None:
        ok = self._apply(lambda: self.factor.use_totp(step, NOW, CAUSE))
        expected = self.model == "active" and (self.last_step is None or step > self.last_step)
        assert ok == expected
        if ok:
            self.last_step = step

    @precondition(lambda self: self.last_step is not None)
    @rule()
    def replay_last_totp(self) -> None:
        assert not self._apply(lambda: self.factor.use_totp(self.last_step, NOW, CAUSE))

    @rule(data=st.data())
    def use_recovery_code(self, data: st.DataObject) -> None:
        pool = sorted(self.unused | self.spent | {"never-issued"})
        code = data.draw(st.sampled_from(pool))
        ok = self._apply(lambda: self.factor.use_recovery_code(code, NOW, CAUSE))
        assert ok == (self.model == "active" and code in self.unused)
        if ok:
            self.unused.discard(code)
            self.spent.add(code)

    @rule()
    def disable(self) -> None:
        ok = self._apply(lambda: self.factor.disable(NOW, CAUSE))
        assert ok == (self.model == "active")
        if ok:
            self.model, self.unused = "disabled", set()

    @invariant()
    def matches_model_and_replays(self) -> None:
        assert self.factor.state is FactorState(self.model)
        assert set(self.factor.recovery_hashes) == self.unused
        if self.model == "active":
            assert self.factor.last_step == self.last_step
        assert state_of(replayed(self.events)) == state_of(self.factor)


class ChallengeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.challenge = MfaChallenge.issue(id=uuid.uuid4(), user_id=uuid.uuid4(),
                                            secret_hash="h", now=NOW, cause=CAUSE)
        self.events: list[Any] = list(self.challenge.collect_events())
        self.failures = 0
        self.completed = False

    def _open(self) -> bool:
        return (not self.completed and self.failures < MAX_CHALLENGE_ATTEMPTS
                and self.now < NOW + CHALLENGE_TTL_SECONDS)

    def _try(self, command: Any) -> bool:
        try:
            command()
        except InvalidMfaChallengeError:
            return False
        finally:
            self.events.extend(self.challenge.collect_events())
        return True

    @rule(seconds=st.integers(0, 200))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def wrong_code(self) -> None:
        expected = self._open()
        assert self._try(lambda: self.challenge.fail(self.now, CAUSE)) == expected
        self.failures += expected

    @rule()
    def right_code(self) -> None:
        expected = self._open()
        assert self._try(lambda: self.challenge.complete(self.now, CAUSE)) == expected
        self.completed |= expected

    @rule(secret=st.sampled_from(["h", "x"]))
    def check(self, secret: str) -> None:
        expected = secret == "h" and self._open()
        assert self._try(lambda: self.challenge.check(secret, self.now)) == expected

    @invariant()
    def bounded_and_replays(self) -> None:
        assert self.challenge.failed_attempts == self.failures <= MAX_CHALLENGE_ATTEMPTS
        assert (self.challenge.completed_at is not None) == self.completed
        assert state_of(replayed(self.events)) == state_of(self.challenge)


TestFactorMachine = FactorMachine.TestCase
TestFactorMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestChallengeMachine = ChallengeMachine.TestCase
TestChallengeMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
