"""The deployment state machine: a transition table, and the one rule that derives a status.

A deployment's observed status is not set by anyone: it follows from what the caller wants
(`desired_state`, `min_replicas`, `max_replicas`) and what the replicas reported, through
`derive` below. The table says which action is possible in which status and which statuses it
may lead to; the property test holds `derive` to it.

- `creating`: running is wanted and it has not been ready since it was (re)started.
- `ready`: running is wanted, at least `min_replicas` replicas are ready and no more than
  `max_replicas` are live (starting or ready).
- `updating`: running is wanted and it had been ready, but not now: a replica was lost, or a
  change (more replicas, a lower maximum) is still being carried out. Still served while any
  replica is ready.
- `stopping`: stopped is wanted and a replica is still live.
- `stopped`: stopped is wanted and no replica is live.
- `failed`: the controller gave up on it as a whole (`fail`); it stays failed, whatever the
  replicas report, until the caller stops or starts it again.

No status is terminal: a stopped or failed deployment can be started again.
"""

from __future__ import annotations

from enum import StrEnum

from domain.shared.transitions import TransitionTable


class DesiredState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class DeploymentStatus(StrEnum):
    CREATING = "creating"
    READY = "ready"
    UPDATING = "updating"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


S = DeploymentStatus

# action -> {status it is allowed in: the statuses it may lead to}. Which one `derive` picks
# depends on the replicas; an action that keeps the status maps a status to itself.
TRANSITIONS: dict[str, dict[DeploymentStatus, frozenset[DeploymentStatus]]] = {
    # The caller's (PUT /v1/deployments/{id}).
    "update": {S.CREATING: frozenset({S.CREATING, S.READY}),
               S.READY: frozenset({S.READY, S.UPDATING}),
               S.UPDATING: frozenset({S.UPDATING, S.READY}),
               S.STOPPING: frozenset({S.STOPPING}),
               S.STOPPED: frozenset({S.STOPPED}),
               S.FAILED: frozenset({S.FAILED})},
    "stop": {status: frozenset({S.STOPPING, S.STOPPED})
             for status in (S.CREATING, S.READY, S.UPDATING, S.FAILED)},
    # A stop runs to its end before a start; `start` on a failed deployment is the retry.
    "start": {S.STOPPED: frozenset({S.CREATING}),
              S.FAILED: frozenset({S.CREATING, S.READY})},
    # The controller's. A replica report is a fact, recorded in every status; a late one can
    # turn `stopped` into `stopping` again (a replica the stop has not reached yet).
    "replica_report": {S.CREATING: frozenset({S.CREATING, S.READY}),
                       S.READY: frozenset({S.READY, S.UPDATING}),
                       S.UPDATING: frozenset({S.UPDATING, S.READY}),
                       S.STOPPING: frozenset({S.STOPPING, S.STOPPED}),
                       S.STOPPED: frozenset({S.STOPPED, S.STOPPING}),
                       S.FAILED: frozenset({S.FAILED})},
    "fail": {status: frozenset({S.FAILED}) for status in (S.CREATING, S.READY, S.UPDATING)},
}

# What a caller (a user over HTTP) may do; the rest belongs to the deployment controller.
CALLER_ACTIONS = ("update", "stop", "start")

# Served by the gateway (when a replica is ready).
ROUTABLE = frozenset({S.READY, S.UPDATING})


MACHINE = TransitionTable(TRANSITIONS, CALLER_ACTIONS)
allowed_actions = MACHINE.allowed_actions  # what the deployment's `allowed_actions` shows
require = MACHINE.target  # the statuses an action may lead to from a status


def derive(previous: DeploymentStatus, desired: DesiredState, *, ready: int, live: int,
           min_replicas: int, max_replicas: int) -> DeploymentStatus:
    """The observed status after a change, from the status before it (see the module doc).

    `ready` counts ready replicas, `live` starting and ready ones. A (re)start passes
    `creating` as `previous`: it has not been ready since.
    """
    if desired is DesiredState.STOPPED:
        return S.STOPPED if live == 0 else S.STOPPING
    if previous is S.FAILED:
        return S.FAILED
    if ready >= min_replicas and live <= max_replicas:
        return S.READY
    if previous in (S.READY, S.UPDATING):
        return S.UPDATING
    return S.CREATING


def replicas_wanted(desired: DesiredState, status: DeploymentStatus, min_replicas: int) -> int:
    """How many replicas should run now: `min_replicas` while running is wanted, none when
    stopped is wanted or the deployment failed (the controller stops what is left)."""
    if desired is DesiredState.STOPPED or status is S.FAILED:
        return 0
    return min_replicas
