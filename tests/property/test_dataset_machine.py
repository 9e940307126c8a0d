"""Random command sequences on a Dataset never reach an impossible state.

Invariants: the status is one the transition table knows; deleted is terminal; every
version ever uploaded stays exactly as recorded; a report always describes the current
version; allowed_actions matches the table; replaying the events rebuilds an equal dataset.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.datasets.dataset import Dataset
from domain.datasets.status import ACTIONS, DatasetStatus, allowed_actions
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError

CONTENTS = ["a" * 64, "b" * 64, "c" * 64]


class DatasetMachine(RuleBasedStateMachine):
    @initialize()
    def create(self) -> None:
        self.dataset = Dataset.create(
            org_id=uuid4(), project_id=None, name="train", description="", purpose="fine_tuning",
            data_format="chat", metadata={}, request_fingerprint="f", cause=SYSTEM)
        self.events: list[Any] = self.dataset.collect_events()
        self.seen_versions: list[Any] = []

    def _attempt(self, action: str, command: Any) -> None:
        status = self.dataset.status
        if status in ACTIONS[action]:
            command()
        else:
            with pytest.raises(InvalidStateTransitionError):
                command()
            assert self.dataset.status is status
        self.events += self.dataset.collect_events()

    @rule(sha=st.sampled_from(CONTENTS), lines=st.integers(0, 10**6))
    def upload(self, sha: str, lines: int) -> None:
        self._attempt("upload", lambda: self.dataset.record_upload(
            sha256=sha, size=lines * 10, lines=lines, object_key=f"k/{sha}", uploaded_at=1.0,
            cause=SYSTEM))

    @rule()
    def validate(self) -> None:
        self._attempt("validate", lambda: self.dataset.request_validation(cause=SYSTEM))

    @rule(valid=st.booleans(), stale=st.booleans())
    def complete(self, valid: bool, stale: bool) -> None:
        current = self.dataset.current_version
        number = (current.number if current else 0) - (1 if stale else 0)
        command = lambda: self.dataset.complete_validation(  # noqa: E731
            version=number, valid=valid, report={"valid": valid}, cause=SYSTEM)
        if stale and self.dataset.status is DatasetStatus.VALIDATING:
            with pytest.raises(ValidationFailedError):
                command()
            return
        self._attempt("complete_validation", command)

    @rule(name=st.text(min_size=1, max_size=10).filter(str.strip))
    def rename(self, name: str) -> None:
        self._attempt("update", lambda: self.dataset.update(
            name=name, description=None, metadata=None, cause=SYSTEM))

    @rule()
    def delete(self) -> None:
        self._attempt("delete", lambda: self.dataset.delete(cause=SYSTEM))

    @invariant()
    def versions_are_immutable_and_numbered(self) -> None:
        versions = list(self.dataset.versions)
        assert versions[:len(self.seen_versions)] == self.seen_versions
        assert [v.number for v in versions] == list(range(1, len(versions) + 1))
        self.seen_versions = versions

    @invariant()
    def a_report_describes_the_current_version(self) -> None:
        if self.dataset.status in (DatasetStatus.VALID, DatasetStatus.INVALID):
            assert self.dataset.current_version is not None
            assert self.dataset.validated_version == self.dataset.current_version.number
        assert self.dataset.allowed_actions == allowed_actions(self.dataset.status)
        if self.dataset.status is DatasetStatus.DELETED:
            assert self.dataset.allowed_actions == ()

    @invariant()
    def replay_rebuilds_an_equal_dataset(self) -> None:
        rebuilt = None
        for event in self.events:
            rebuilt = event.mutate(rebuilt)
        assert rebuilt is not None
        assert rebuilt.version == self.dataset.version == len(self.events)
        assert (rebuilt.status, rebuilt.versions, rebuilt.report, rebuilt.name) == (
            self.dataset.status, self.dataset.versions, self.dataset.report, self.dataset.name)


TestDatasetMachine = DatasetMachine.TestCase
TestDatasetMachine.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
