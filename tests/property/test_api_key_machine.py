"""Property test: random create/update/use/revoke sequences keep the ApiKey's invariants.

Invariants: scopes never exceed the creator's; revoked is terminal; an expired key changes only
by revocation; and the stored events, replayed through a repository, rebuild an equal key.
"""

from __future__ import annotations

from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.shared.base import BitstrideApplication
from domain.identity.api_key import DAY_SECONDS, ApiKey, Expiry
from domain.identity.api_key_errors import ScopeEscalationError
from domain.identity.scopes import known_scopes, within
from domain.shared.cause import Cause
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError

SCOPES = st.lists(st.sampled_from([*known_scopes(), "admin", "projects:admin"]),
                  min_size=0, max_size=4)
DAYS = st.one_of(st.none(), st.integers(min_value=-2, max_value=400))
CAUSE = Cause(actor_id="user_prop")
REJECTED = (ScopeEscalationError, ValidationFailedError, InvalidStateTransitionError)


class ApiKeyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = BitstrideApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.now = 1_800_000_000.0
        self.key: ApiKey | None = None
        self.was_revoked = False

    @initialize(creator=st.lists(st.sampled_from(known_scopes()), min_size=1, max_size=3),
                scopes=SCOPES, days=DAYS)
    def create(self, creator: list[str], scopes: list[str], days: int | None) -> None:
        self.creator = tuple(creator)
        try:
            self.key = ApiKey.issue(key_id=uuid4(), org_id=uuid4(), created_by=uuid4(),
                                    name="k", scopes=scopes, creator_scopes=self.creator,
                                    project_id=None, prefix="bsk_abcd", last4="wxyz",
                                    secret_hmac="h", expiry=Expiry(days), now=self.now,
                                    cause=CAUSE)
        except (ScopeEscalationError, ValidationFailedError):
            valid_scopes = bool(scopes) and set(scopes) <= set(known_scopes())
            bad_days = days is not None and not 1 <= days <= 365
            assert not valid_scopes or not within(scopes, self.creator) or bad_days
            return
        self.app.save(self.key)

    @rule(name=st.one_of(st.none(), st.text(max_size=5)), scopes=st.one_of(st.none(), SCOPES),
          days=st.one_of(st.none(), DAYS))
    def update(self, name: str | None, scopes: list[str] | None, days: int | None) -> None:
        if self.key is None:
            return
        before = (self.key.name, list(self.key.scopes), self.key.expires_at)
        state_before = self.key.state(self.now)
        try:
            self.key.update(name=name, scopes=scopes,
                            expiry=None if days is None else Expiry(days),
                            creator_scopes=self.creator, now=self.now, cause=CAUSE)
        except REJECTED:
            assert (self.key.name, self.key.scopes, self.key.expires_at) == before
            return
        assert state_before == "active"
        self.app.save(self.key)

    @rule()
    def revoke(self) -> None:
        if self.key is None:
            return
        try:
            self.key.revoke(self.now, CAUSE)
        except InvalidStateTransitionError:
            assert self.was_revoked
            return
        self.was_revoked = True
        self.app.save(self.key)

    @rule()
    def use(self) -> None:
        if self.key is not None and self.key.record_use(self.now, CAUSE):
            assert self.key.is_active(self.now)
            self.app.save(self.key)

    @rule(seconds=st.floats(min_value=0, max_value=40 * DAY_SECONDS))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def scopes_within_creator(self) -> None:
        if self.key is not None:
            assert within(self.key.scopes, self.creator)

    @invariant()
    def revoked_is_terminal(self) -> None:
        if self.key is not None and self.was_revoked:
            assert self.key.is_revoked and not self.key.is_active(self.now)
            assert self.key.allowed_actions(self.now) == []

    @invariant()
    def replay_rebuilds_an_equal_key(self) -> None:
        if self.key is None:
            return
        replayed = self.app.repository.get(self.key.id)
        assert replayed.__dict__ == self.key.__dict__


TestApiKeyMachine = ApiKeyMachine.TestCase
TestApiKeyMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
