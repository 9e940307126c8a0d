"""The deployment state machine's table and its derivation rule, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from domain.serving.status import (
    CALLER_ACTIONS,
    TRANSITIONS,
    DeploymentStatus,
    DesiredState,
    allowed_actions,
    derive,
    replicas_wanted,
    require,
)
from domain.shared.errors import InvalidStateTransitionError

S = DeploymentStatus


def test_allowed_actions_per_status() -> None:
    assert {status.value: allowed_actions(status) for status in S} == {
        "creating": ("update", "stop"), "ready": ("update", "stop"),
        "updating": ("update", "stop"), "stopping": ("update",),
        "stopped": ("update", "start"), "failed": ("update", "stop", "start")}
    assert set(CALLER_ACTIONS) <= set(TRANSITIONS)


def test_require_refuses_with_the_allowed_actions() -> None:
    with pytest.raises(InvalidStateTransitionError) as raised:
        require(S.STOPPING, "start")
    assert (raised.value.action, raised.value.state, raised.value.allowed_actions) == (
        "start", "stopping", ("update",))


# Every situation the derivation can meet: the status before, what is wanted, the counts.
SITUATIONS = [(previous, desired, ready, live, low, high)
              for previous, desired in itertools.product(S, DesiredState)
              for low, high in ((1, 1), (1, 3), (2, 2))
              for live in range(4) for ready in range(live + 1)]


@pytest.mark.parametrize("situation", SITUATIONS)
def test_derive_follows_the_documented_rules(
        situation: tuple[DeploymentStatus, DesiredState, int, int, int, int]) -> None:
    previous, desired, ready, live, low, high = situation
    status = derive(previous, desired, ready=ready, live=live, min_replicas=low,
                    max_replicas=high)
    if desired is DesiredState.STOPPED:
        assert status is (S.STOPPED if live == 0 else S.STOPPING)
    elif previous is S.FAILED:
        assert status is S.FAILED
    elif ready >= low and live <= high:
        assert status is S.READY
    else:
        assert status is (S.UPDATING if previous in (S.READY, S.UPDATING) else S.CREATING)


def test_replicas_wanted() -> None:
    assert replicas_wanted(DesiredState.RUNNING, S.READY, 3) == 3
    assert replicas_wanted(DesiredState.RUNNING, S.FAILED, 3) == 0
    assert replicas_wanted(DesiredState.STOPPED, S.STOPPING, 3) == 0
