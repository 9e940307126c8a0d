"""The invoice state machine: a transition table.

`finalized → paid | void`; `paid` and `void` are terminal. `draft` is what users see for a
period that is not closed yet: a live view computed from usage (never stored), with no
actions. An Invoice aggregate is born finalized, by closing its period: its creation event is
`Finalized`, so a stored invoice never changes its lines or amounts.
"""

from __future__ import annotations

from enum import StrEnum

from domain.shared.transitions import TransitionTable


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    VOID = "void"


S = InvoiceStatus

# action -> {status it is allowed in: the status it leads to}.
TRANSITIONS: dict[str, dict[InvoiceStatus, InvoiceStatus]] = {
    "pay": {S.FINALIZED: S.PAID},
    "void": {S.FINALIZED: S.VOID},
}

TERMINAL = frozenset({S.PAID, S.VOID})
ACTIONS = tuple(TRANSITIONS)

MACHINE = TransitionTable(TRANSITIONS, ACTIONS)
allowed_actions = MACHINE.allowed_actions  # what an operator may do now
target = MACHINE.target
