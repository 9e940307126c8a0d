"""Invoice: one organization's charges for one closed period, priced and summed once.

The id derives from (organization, period): one invoice per organization and period, and
closing a period twice finds the invoice the first close made. Its creation event,
`bitstride.billing.Invoice.Finalized`, is a contract read straight from the log by
reconciliation: it holds the organization, the period, the currency, the price-book version,
`usage_position` (the usage-log notification id up to which records were summed), the lines
(meter, model, quantity, unit_price, unit, amount, records), the subtotal and the total. Its
amounts follow domain/billing/pricing.py. After it, only the status moves (status.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.billing.period import Period
from domain.billing.pricing import CURRENCY, InvoiceLine, format_amount, total_of
from domain.billing.status import InvoiceStatus, allowed_actions, target
from domain.shared.cause import Cause
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import derived_id

MAX_REASON = 500


def invoice_id(org_id: UUID, period: Period | str) -> UUID:
    return derived_id("invoice", org_id.hex, str(period))


class Invoice(Aggregate):
    TOPIC = "bitstride.billing.Invoice"

    class Created(Aggregate.Created):
        """Never recorded (an invoice is created by `Finalized`); eventsourcing defines it."""

        TOPIC = "bitstride.billing.Invoice.Created"

    @staticmethod
    def create_id(org_id: UUID, period: str, **_: Any) -> UUID:
        return invoice_id(org_id, period)

    @event("Finalized", topic="bitstride.billing.Invoice.Finalized")
    def __init__(self, *, org_id: UUID, period: str, currency: str, price_book_version: int,
                 usage_position: int, lines: list[dict[str, Any]], subtotal: str, total: str,
                 cause: Cause) -> None:
        self.org_id, self.period, self.currency = org_id, period, currency
        self.price_book_version, self.usage_position = price_book_version, usage_position
        self.lines = tuple(InvoiceLine.from_dict(line) for line in lines)
        self.subtotal, self.total = subtotal, total
        self.status = InvoiceStatus.FINALIZED
        self.paid_at: float | None = None
        self.voided_at: float | None = None
        self.void_reason: str | None = None
        self.last_cause = cause

    @classmethod
    def finalize(cls, *, org_id: UUID, period: Period, price_book_version: int,
                 usage_position: int, lines: Iterable[InvoiceLine], cause: Cause) -> Invoice:
        """The invoice of `lines` (priced by domain/billing/pricing.py `price_lines`)."""
        if price_book_version < 1 or usage_position < 0:
            raise ValidationFailedError("An invoice needs a published price book and a usage "
                                        "position.", param="price_book_version")
        priced = list(lines)
        subtotal = format_amount(total_of(line.amount for line in priced))
        return cls(org_id=org_id, period=period.name, currency=CURRENCY,
                   price_book_version=price_book_version, usage_position=usage_position,
                   lines=[line.as_dict() for line in priced], subtotal=subtotal,
                   total=subtotal, cause=cause)

    # -- queries ----------------------------------------------------------------------------

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status)

    @property
    def finalized_at(self) -> float:
        return self.created_on.timestamp()

    # -- commands ---------------------------------------------------------------------------

    def pay(self, *, at: float, cause: Cause) -> None:
        target(self.status, "pay")
        self._paid(at=at, cause=cause)

    def void(self, *, reason: str | None, at: float, cause: Cause) -> None:
        target(self.status, "void")
        if reason is not None and not 0 < len(reason) <= MAX_REASON:
            raise ValidationFailedError(f"'reason' must be 1 to {MAX_REASON} characters.",
                                        param="reason")
        self._voided(reason=reason, at=at, cause=cause)

    @event("Paid", topic="bitstride.billing.Invoice.Paid")
    def _paid(self, *, at: float, cause: Cause) -> None:
        self.status, self.paid_at, self.last_cause = InvoiceStatus.PAID, at, cause

    @event("Voided", topic="bitstride.billing.Invoice.Voided")
    def _voided(self, *, reason: str | None, at: float, cause: Cause) -> None:
        self.status, self.voided_at, self.void_reason = InvoiceStatus.VOID, at, reason
        self.last_cause = cause
