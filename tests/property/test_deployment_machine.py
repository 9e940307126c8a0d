"""Random caller commands and controller reports on a Deployment never reach an impossible state.

The controller model reports on a small pool of replicas (starting, ready, failed, stopped) and
gives up on the deployment now and then; the network then delivers any of its reports, any
number of times, in any order, also long after. The caller changes the desired state and the
bounds at random, valid or not. Invariants: the status is the one the documented rules give
for the desired state and the replicas; the bounds stay 1 ≤ min ≤ max ≤ 8 and `replicas_wanted`
follows them; `allowed_actions` is the table's; a replica never moves backwards; every applied
change leads where the transition table says; every refused command raised a domain error and
changed nothing; replaying the collected events rebuilds an equal deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.serving.deployment import Deployment
from domain.serving.replicas import ReplicaStatus
from domain.serving.spec import MAX_REPLICAS
from domain.serving.status import (
    TRANSITIONS,
    DeploymentStatus,
    DesiredState,
    allowed_actions,
    replicas_wanted,
)
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError
from tests.unit.serving.factories import new_deployment, replayed, state, url_of

S = DeploymentStatus
REPLICAS = [f"r{index}" for index in range(5)]
KINDS = ["starting", "starting", "ready", "ready", "failed", "stopped", "stopped", "fail"]
RANK = {ReplicaStatus.STARTING: 0, ReplicaStatus.READY: 1, ReplicaStatus.FAILED: 2,
        ReplicaStatus.STOPPED: 3}
ACTION_OF_EVENT = {"Updated": "update", "StartRequested": "start", "StopRequested": "stop",
                   "ReplicaStarting": "replica_report", "ReplicaReady": "replica_report",
                   "ReplicaFailed": "replica_report", "ReplicaStopped": "replica_report",
                   "Failed": "fail"}


@dataclass(frozen=True)
class Report:
    kind: str
    replica_id: str
    at: float


def deliver(deployment: Deployment, report: Report) -> bool:
    replica_id, at = report.replica_id, report.at
    if report.kind == "starting":
        return deployment.replica_starting(replica_id, at, SYSTEM)
    if report.kind == "ready":
        return deployment.replica_ready(replica_id, url_of(replica_id), at, SYSTEM)
    if report.kind == "failed":
        return deployment.replica_failed(replica_id, f"exit at {at}", at, SYSTEM)
    if report.kind == "stopped":
        return deployment.replica_stopped(replica_id, at, SYSTEM)
    return deployment.fail({"code": "upstream_unhealthy", "message": f"#{at}"}, at, SYSTEM)


BOUND = st.one_of(st.none(), st.integers(0, MAX_REPLICAS + 1))


class DeploymentMachine(RuleBasedStateMachine):
    @initialize(low=st.integers(1, 3), extra=st.integers(0, 2))
    def create(self, low: int, extra: int) -> None:
        self.deployment = new_deployment(min_replicas=low, max_replicas=low + extra)
        self.events: list[Any] = self.deployment.collect_events()
        self.sent: list[Report] = []
        self.clock = 100.0
        self.ready_since_start = False
        self.previous = state(self.deployment)

    def _collect(self, before: DeploymentStatus, expected_action: str | None) -> list[Any]:
        """The new events; each applied change went where the table says."""
        new = self.deployment.collect_events()
        assert len(new) <= 1
        for domain_event in new:
            action = ACTION_OF_EVENT[type(domain_event).__name__]
            if expected_action is not None:
                assert action == expected_action or (
                    expected_action == "caller" and action in ("update", "start", "stop"))
            assert self.deployment.status in TRANSITIONS[action][before], (
                action, before, self.deployment.status)
            if action == "start":
                self.ready_since_start = False
        self.events += new
        return new

    @rule(desired=st.sampled_from([None, "running", "stopped"]), low=BOUND, high=BOUND)
    def caller_updates(self, desired: str | None, low: int | None, high: int | None) -> None:
        before, snapshot = self.deployment.status, state(self.deployment)
        try:
            changed = self.deployment.update(desired_state=desired, min_replicas=low,
                                             max_replicas=high, cause=SYSTEM)
        except ValidationFailedError:
            changed = False
        except InvalidStateTransitionError as refused:
            assert refused.allowed_actions == allowed_actions(before)
            assert refused.state == before.value
            changed = False
        new = self._collect(before, "caller")
        assert bool(new) is changed
        if not changed:
            assert state(self.deployment) == snapshot

    @rule(kind=st.sampled_from(KINDS), replica_id=st.sampled_from(REPLICAS))
    def controller_sends(self, kind: str, replica_id: str) -> None:
        """The controller emits a report; it is in flight until delivered."""
        self.clock += 1.0
        self.sent.append(Report(kind, replica_id, self.clock))

    @rule(kind=st.sampled_from(KINDS), replica_id=st.sampled_from(REPLICAS))
    def controller_reports_at_once(self, kind: str, replica_id: str) -> None:
        """A report delivered as soon as it is sent (and kept, to be delivered again)."""
        self.controller_sends(kind, replica_id)
        self._deliver(self.sent[-1])

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def network_delivers(self, data: st.DataObject) -> None:
        """Any report sent so far: again, out of order, or long after."""
        self._deliver(data.draw(st.sampled_from(self.sent)))

    def _deliver(self, report: Report) -> None:
        before, snapshot = self.deployment.status, state(self.deployment)
        applied = deliver(self.deployment, report)
        new = self._collect(before, "fail" if report.kind == "fail" else "replica_report")
        assert bool(new) is applied
        if not applied:
            assert state(self.deployment) == snapshot, "an ignored report changed something"

    @invariant()
    def status_follows_desired_state_and_replicas(self) -> None:
        deployment = self.deployment
        replicas = deployment.replicas.values()
        ready = sum(r.status is ReplicaStatus.READY for r in replicas)
        live = sum(r.live for r in replicas)
        low, high = deployment.min_replicas, deployment.max_replicas
        status = deployment.status
        assert 1 <= low <= high <= MAX_REPLICAS
        if deployment.desired_state is DesiredState.STOPPED:
            assert status is (S.STOPPED if live == 0 else S.STOPPING)
        elif status is S.FAILED:
            assert deployment.error is not None and deployment.failed_at is not None
        else:
            converged = ready >= low and live <= high
            assert status is (S.READY if converged else
                              S.UPDATING if self.ready_since_start else S.CREATING)
            assert deployment.error is None
        if status is S.READY:
            self.ready_since_start = True
        assert deployment.replicas_wanted == replicas_wanted(deployment.desired_state, status,
                                                             low)
        assert deployment.replicas_wanted <= high
        assert deployment.allowed_actions == allowed_actions(status)
        assert set(deployment.ready_replicas) == {
            r.id for r in replicas if r.status is ReplicaStatus.READY}
        assert all(url for url in deployment.ready_replicas.values())
        assert deployment.is_routable == (status in (S.READY, S.UPDATING) and ready > 0)
        if deployment.is_settled:  # nothing left for the controller: a resting status
            assert status in (S.READY, S.STOPPED, S.FAILED)

    @invariant()
    def replicas_only_move_forward(self) -> None:
        before = self.previous["replicas"]
        now = self.deployment.replicas
        assert set(before) <= set(now)
        for replica_id, replica in before.items():
            assert RANK[now[replica_id].status] >= RANK[replica.status]
        self.previous = state(self.deployment)

    @invariant()
    def replay_rebuilds_an_equal_deployment(self) -> None:
        rebuilt = replayed(self.events)
        assert rebuilt.version == self.deployment.version == len(self.events)
        assert state(rebuilt) == state(self.deployment)
        assert all(e.replica_seconds >= 0 for e in self.events
                   if type(e).__name__ == "ReplicaStopped")


TestDeploymentMachine = DeploymentMachine.TestCase
TestDeploymentMachine.settings = settings(max_examples=200, stateful_step_count=50,
                                          deadline=None)


def test_the_table_names_every_status_for_replica_reports() -> None:
    """A replica report is a fact: no status refuses one."""
    assert set(TRANSITIONS["replica_report"]) == set(S)
    with pytest.raises(KeyError):
        TRANSITIONS["delete"]
