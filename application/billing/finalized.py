"""Finalized invoices as plain values, read from the Billing log (for reconciliation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.billing.pricing import InvoiceLine
from domain.shared.ids import format_id

FINALIZED_TOPIC = "bitstride.billing.Invoice.Finalized"


@dataclass(frozen=True)
class FinalizedInvoice:
    """One `Finalized` event: what was charged, and up to which usage record.

    `invoice_id` is the public `inv_…` id, `org_id` the organization's UUID in hex; `lines`
    carry meter, model ('' when none), quantity, unit_price, unit, amount and records; amounts
    are decimal strings with six decimals.
    """

    invoice_id: str
    org_id: str
    period: str
    usage_position: int
    lines: tuple[InvoiceLine, ...]
    total: str

    @classmethod
    def of(cls, finalized: Any) -> FinalizedInvoice:
        """From a stored `Invoice.Finalized` event."""
        return cls(invoice_id=format_id("inv", finalized.originator_id),
                   org_id=finalized.org_id.hex, period=finalized.period,
                   usage_position=finalized.usage_position,
                   lines=tuple(InvoiceLine.from_dict(line) for line in finalized.lines),
                   total=finalized.total)
