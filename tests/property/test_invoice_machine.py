"""Random operator commands on an Invoice never reach an illegal state.

An invoice is born finalized with random lines; operators then pay or void it at random
(with valid and invalid reasons), any number of times. Invariants: the status is one the
table allows (never draft: that is a live view, not a stored state); a terminal status stays
terminal; every applied command led where the transition table says; every refused command
raised a domain error naming the current state and changed nothing; the totals always equal
the sum of the lines; replaying the collected events rebuilds an equal invoice.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.billing.invoice import Invoice
from domain.billing.period import Period
from domain.billing.pricing import InvoiceLine, format_amount, line_amount, total_of
from domain.billing.status import TERMINAL, TRANSITIONS, InvoiceStatus, allowed_actions
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError

ACTION_OF_EVENT = {"Paid": "pay", "Voided": "void"}
PRICES = st.sampled_from(["0", "0.01", "0.4", "1.44", "3", "0.000000000001"])


@st.composite
def lines(draw: st.DrawFn) -> list[InvoiceLine]:
    found = []
    for index in range(draw(st.integers(0, 4))):
        quantity, price = draw(st.integers(0, 2**53)), draw(PRICES)
        unit = draw(st.sampled_from([1, 1000, 3600, 1_000_000]))
        found.append(InvoiceLine(meter="inference.input_tokens", model=f"m{index}",
                                 quantity=quantity, unit_price=price, unit=unit,
                                 amount=format_amount(line_amount(quantity, price, unit)),
                                 records=draw(st.integers(1, 100))))
    return found


def replayed(events: list[Any]) -> Invoice:
    invoice = None
    for domain_event in events:
        invoice = domain_event.mutate(invoice)
    assert isinstance(invoice, Invoice)
    return invoice


def state(invoice: Invoice) -> dict[str, Any]:
    return {key: value for key, value in vars(invoice).items() if key != "_pending_events"}


class InvoiceMachine(RuleBasedStateMachine):
    @initialize(priced=lines(), month=st.integers(1, 12))
    def finalize(self, priced: list[InvoiceLine], month: int) -> None:
        self.invoice = Invoice.finalize(org_id=uuid4(), period=Period(2026, month),
                                        price_book_version=1, usage_position=7, lines=priced,
                                        cause=SYSTEM)
        self.events: list[Any] = self.invoice.collect_events()
        self.ended: InvoiceStatus | None = None

    def _command(self, action: str, run: Any) -> None:
        before, snapshot = self.invoice.status, state(self.invoice)
        try:
            run()
        except InvalidStateTransitionError as refused:
            assert refused.state == before.value
            assert refused.allowed_actions == allowed_actions(before)
        except ValidationFailedError:
            pass
        new = self.invoice.collect_events()
        assert len(new) <= 1
        if not new:
            assert state(self.invoice) == snapshot
        for domain_event in new:
            assert ACTION_OF_EVENT[type(domain_event).__name__] == action
            assert self.invoice.status is TRANSITIONS[action][before]
        self.events += new

    @rule(at=st.floats(0, 2e9))
    def pay(self, at: float) -> None:
        self._command("pay", lambda: self.invoice.pay(at=at, cause=SYSTEM))

    @rule(reason=st.one_of(st.none(), st.text(max_size=3), st.text(min_size=501,
                                                                   max_size=502)),
          at=st.floats(0, 2e9))
    def void(self, reason: str | None, at: float) -> None:
        self._command("void", lambda: self.invoice.void(reason=reason, at=at, cause=SYSTEM))

    @invariant()
    def status_is_legal_and_terminal_stays_terminal(self) -> None:
        status = self.invoice.status
        assert status in (InvoiceStatus.FINALIZED, *TERMINAL)
        if self.ended is not None:
            assert status is self.ended
        if status in TERMINAL:
            self.ended = status
        assert self.invoice.allowed_actions == allowed_actions(status)
        assert (self.invoice.paid_at is not None) == (status is InvoiceStatus.PAID)
        assert (self.invoice.voided_at is not None) == (status is InvoiceStatus.VOID)

    @invariant()
    def totals_are_the_sum_of_the_lines(self) -> None:
        summed = format_amount(total_of(line.amount for line in self.invoice.lines))
        assert self.invoice.subtotal == self.invoice.total == summed

    @invariant()
    def replay_rebuilds_an_equal_invoice(self) -> None:
        rebuilt = replayed(self.events)
        assert rebuilt.version == self.invoice.version == len(self.events)
        assert state(rebuilt) == state(self.invoice)


TestInvoiceMachine = InvoiceMachine.TestCase
TestInvoiceMachine.settings = settings(max_examples=60, stateful_step_count=12, deadline=None)


def test_draft_has_no_actions_and_no_transition_leads_back() -> None:
    assert allowed_actions(InvoiceStatus.DRAFT) == ()
    assert all(InvoiceStatus.DRAFT not in targets.values() for targets in TRANSITIONS.values())
    assert all(not set(targets) & TERMINAL for targets in TRANSITIONS.values())
