"""The model state machine: a transition table, not scattered ifs."""

from __future__ import annotations

from enum import StrEnum

from domain.shared.errors import InvalidStateTransitionError


class ModelKind(StrEnum):
    BASE = "base"                  # the platform's catalog, visible to every organization
    ORGANIZATION = "organization"  # registered by, or produced for, one organization


class ModelStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


# action -> the states it is allowed in.
ACTIONS: dict[str, frozenset[ModelStatus]] = {
    "update": frozenset({ModelStatus.ACTIVE}),
    "delete": frozenset({ModelStatus.ACTIVE}),
}

TERMINAL = frozenset({ModelStatus.DELETED})


def allowed_actions(status: ModelStatus, kind: ModelKind) -> tuple[str, ...]:
    """What an organization may do now: nothing to a base model, which the catalog owns."""
    if kind is ModelKind.BASE:
        return ()
    return tuple(action for action, states in ACTIONS.items() if status in states)


def require(status: ModelStatus, kind: ModelKind, action: str) -> None:
    if status not in ACTIONS[action]:
        raise InvalidStateTransitionError(action=action, state=status.value,
                                          allowed_actions=allowed_actions(status, kind))
