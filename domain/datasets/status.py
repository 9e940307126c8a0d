"""The dataset state machine: a transition table, not scattered ifs."""

from __future__ import annotations

from enum import StrEnum

from domain.shared.transitions import TransitionTable


class DatasetStatus(StrEnum):
    CREATED = "created"
    UPLOADED = "uploaded"
    VALIDATING = "validating"
    VALID = "valid"
    INVALID = "invalid"
    DELETED = "deleted"


S = DatasetStatus

# action -> the states it is allowed in. An upload during validation is refused, so a report
# always describes the version that is current when it completes.
ACTIONS: dict[str, frozenset[DatasetStatus]] = {
    "update": frozenset({S.CREATED, S.UPLOADED, S.VALIDATING, S.VALID, S.INVALID}),
    "upload": frozenset({S.CREATED, S.UPLOADED, S.VALID, S.INVALID}),
    "validate": frozenset({S.UPLOADED, S.VALID, S.INVALID}),
    "complete_validation": frozenset({S.VALIDATING}),
    "delete": frozenset({S.CREATED, S.UPLOADED, S.VALIDATING, S.VALID, S.INVALID}),
}

TERMINAL = frozenset({S.DELETED})


# No action changes the status by itself (the aggregate sets it), so each leads nowhere here.
MACHINE: TransitionTable[DatasetStatus, None] = TransitionTable(
    {action: dict.fromkeys(states) for action, states in ACTIONS.items()},
    caller_actions=[action for action in ACTIONS if action != "complete_validation"])
allowed_actions = MACHINE.allowed_actions  # complete_validation is the worker's, not listed
require = MACHINE.target
