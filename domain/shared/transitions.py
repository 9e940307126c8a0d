"""The one rule every state machine here shares: an action is allowed in some statuses and
leads somewhere from each; refusing it names the current status and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from domain.shared.errors import InvalidStateTransitionError

S = TypeVar("S", bound=StrEnum)
T = TypeVar("T")


class TransitionTable(Generic[S, T]):
    """`table`: action -> {status it is allowed in: where it leads from there} (a status, or the
    statuses it may lead to). `caller_actions`: the actions an object's `allowed_actions`
    lists; the others belong to the system (schedulers, executors, validators)."""

    def __init__(self, table: Mapping[str, Mapping[S, T]], caller_actions: Iterable[str]) -> None:
        self.table = table
        self.caller_actions = tuple(caller_actions)

    def allowed_actions(self, status: S) -> tuple[str, ...]:
        return tuple(action for action in self.caller_actions if status in self.table[action])

    def target(self, status: S, action: str) -> T:
        """Where `action` leads from `status`, or InvalidStateTransitionError."""
        targets = self.table[action]
        if status not in targets:
            raise InvalidStateTransitionError(action=action, state=status.value,
                                              allowed_actions=self.allowed_actions(status))
        return targets[status]
