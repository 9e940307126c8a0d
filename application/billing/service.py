"""Billing use cases: publish the price book, close periods into invoices, pay and void.

Closing a period for an organization sums the usage records of the period up to a usage-log
position taken once the usage projection had applied the whole log (`prepare_close`), prices
them with the current price book and records the invoice's `Finalized` event. The invoice is
thus reproducible from the log alone; closing again finds the same invoice (its id derives
from the organization and period) and records nothing. The open period's draft is priced the
same way from the live 1-day buckets, and never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from application.billing.finalized import FINALIZED_TOPIC, FinalizedInvoice
from application.billing.ports import BilledUsage
from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome
from domain.billing.invoice import Invoice, invoice_id
from domain.billing.period import Period
from domain.billing.price_book import PRICE_BOOK_ID, PriceBook
from domain.billing.pricing import (
    CURRENCY,
    InvoiceLine,
    PriceEntry,
    format_amount,
    price_lines,
    total_of,
)
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import ConflictError, NotFoundError

SCAN_PAGE = 1000


@dataclass(frozen=True)
class Closing:
    """A period ready to close: the usage position to sum up to, and who had usage."""

    period: Period
    usage_position: int
    org_ids: tuple[str, ...]


@dataclass(frozen=True)
class Draft:
    """What closing the period now would charge: live, unsaved, without a usage position."""

    id: UUID
    org_id: UUID
    period: Period
    currency: str
    price_book_version: int
    lines: tuple[InvoiceLine, ...]
    total: str


class BillingService(BitstrideApplication):
    name = "Billing"
    usage: BilledUsage | None = None  # wired by the composition root

    # -- price book -------------------------------------------------------------------------

    def sync_price_book(self, entries: Iterable[PriceEntry], *, at: float,
                        cause: Cause = SYSTEM) -> int | None:
        """Publish `entries` as the next version unless they are the current one; returns
        the position written (None: unchanged)."""
        wanted = list(entries)

        def attempt() -> int | None:
            book = self.get_or_none(PRICE_BOOK_ID)
            if not isinstance(book, PriceBook):
                book = PriceBook(cause=cause)
            changed = book.publish(wanted, at=at, cause=cause)  # always, for a new book
            return self.last_position(self.save(book)) if changed else None

        return retry_on_conflict(attempt)

    def price_book(self) -> PriceBook:
        book = self.get_or_none(PRICE_BOOK_ID)
        if not isinstance(book, PriceBook) or book.price_book_version == 0:
            raise ConflictError("No price book is published yet (PRICE_BOOK_FILE).")
        return book

    # -- closing ----------------------------------------------------------------------------

    def prepare_close(self, period: Period, *, now: float) -> Closing:
        """Refuse a period still open; else wait for the usage projection to reach the usage
        log's head and list the organizations with usage in the period."""
        period.require_ended(now)
        usage = self._usage()
        position = usage.projected_head()
        return Closing(period, position, tuple(usage.organizations(period.start, period.end)))

    def close_invoice(self, org_id: UUID, closing: Closing, *, cause: Cause = SYSTEM
              ) -> Outcome[Invoice]:
        """The organization's invoice for the period: made now, or the one made before
        (`replayed`)."""
        return retry_on_conflict(partial(self._close, org_id, closing, cause))

    def _close(self, org_id: UUID, closing: Closing, cause: Cause) -> Outcome[Invoice]:
        existing = self.get_or_none(invoice_id(org_id, closing.period))
        if isinstance(existing, Invoice):
            return Outcome(existing, None, replayed=True)
        period, book = closing.period, self.price_book()
        totals = self._usage().closing_totals(org_id.hex, period.start, period.end,
                                              up_to=closing.usage_position)
        invoice = Invoice.finalize(org_id=org_id, period=period,
                                   price_book_version=book.price_book_version,
                                   usage_position=closing.usage_position,
                                   lines=price_lines(totals, book.entries), cause=cause)
        return Outcome(invoice, self.last_position(self.save(invoice)))

    # -- operators --------------------------------------------------------------------------

    def pay(self, target: UUID, *, at: float, cause: Cause) -> Outcome[Invoice]:
        def attempt() -> Outcome[Invoice]:
            invoice = self.invoice(target)
            invoice.pay(at=at, cause=cause)
            return Outcome(invoice, self.last_position(self.save(invoice)))

        return retry_on_conflict(attempt)

    def void(self, target: UUID, *, reason: str | None, at: float,
             cause: Cause) -> Outcome[Invoice]:
        def attempt() -> Outcome[Invoice]:
            invoice = self.invoice(target)
            invoice.void(reason=reason, at=at, cause=cause)
            return Outcome(invoice, self.last_position(self.save(invoice)))

        return retry_on_conflict(attempt)

    # -- reading ----------------------------------------------------------------------------

    def invoice(self, target: UUID) -> Invoice:
        invoice = self.get_or_none(target)
        if not isinstance(invoice, Invoice):
            raise NotFoundError("No such invoice.")
        return invoice

    def draft(self, org_id: UUID, period: Period) -> Draft:
        """The period's charges so far, from the live usage buckets and the current prices."""
        book = self.price_book()
        totals = self._usage().live_totals(org_id.hex, period.start, period.end)
        lines = price_lines(totals, book.entries)
        return Draft(id=invoice_id(org_id, period), org_id=org_id, period=period,
                     currency=CURRENCY, price_book_version=book.price_book_version,
                     lines=lines, total=format_amount(total_of(line.amount for line in lines)))

    def finalized_invoices(self, period: str | None) -> list[FinalizedInvoice]:
        """Every `Finalized` event of the log (of one period 'YYYY-MM', or all), in log order."""
        found: list[FinalizedInvoice] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start, SCAN_PAGE, topics=[FINALIZED_TOPIC])
            for notification in page:
                invoice = FinalizedInvoice.of(self.mapper.to_domain_event(notification))
                if period is None or invoice.period == period:
                    found.append(invoice)
            if len(page) < SCAN_PAGE:
                return found
            start = page[-1].id + 1

    def _usage(self) -> BilledUsage:
        if self.usage is None:
            raise RuntimeError("BillingService.usage is not wired.")
        return self.usage
