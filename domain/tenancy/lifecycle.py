"""The active → deleted life cycle shared by organizations and projects."""

from __future__ import annotations

from enum import StrEnum

from domain.shared.errors import InvalidStateTransitionError


class Lifecycle(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


# Transition table: which actions each state allows.
ALLOWED_ACTIONS: dict[Lifecycle, tuple[str, ...]] = {
    Lifecycle.ACTIVE: ("update", "delete"),
    Lifecycle.DELETED: (),
}


def require_action(state: Lifecycle, action: str) -> None:
    """Raise the 409 domain error unless `action` is allowed in `state`."""
    allowed = ALLOWED_ACTIONS[state]
    if action not in allowed:
        raise InvalidStateTransitionError(action=action, state=state.value, allowed_actions=allowed)
