"""The dataset state machine: a transition table, not scattered ifs."""

from __future__ import annotations

from enum import StrEnum

from domain.shared.errors import InvalidStateTransitionError


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


def allowed_actions(status: DatasetStatus) -> tuple[str, ...]:
    """Actions a caller may take now (complete_validation is the worker's, not listed)."""
    return tuple(action for action, states in ACTIONS.items()
                 if status in states and action != "complete_validation")


def require(status: DatasetStatus, action: str) -> None:
    if status not in ACTIONS[action]:
        raise InvalidStateTransitionError(action=action, state=status.value,
                                          allowed_actions=allowed_actions(status))
