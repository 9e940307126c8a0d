"""InvoicesProjection: one row per finalized invoice, its status kept current."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import update

from domain.billing.invoice import Invoice
from projections.billing.tables import invoices_table
from projections.sql import upsert
from projections.view import SingleTableView, unix

PROJECTION_NAME = "invoices"


class InvoicesView(SingleTableView):
    projection_name = PROJECTION_NAME
    make_table = staticmethod(invoices_table)


class InvoicesProjection(Projection[InvoicesView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _finalized(self, event: Invoice.Finalized, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "org_id": event.org_id.hex,
               "period": event.period, "status": "finalized", "currency": event.currency,
               "lines": list(event.lines), "subtotal": event.subtotal, "total": event.total,
               "price_book_version": event.price_book_version,
               "usage_position": event.usage_position, "created_at": unix(event),
               "finalized_at": unix(event), "paid_at": None, "voided_at": None,
               "void_reason": None, "version": event.originator_version}
        table = self.view.table
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _paid(self, event: Invoice.Paid, tracking: Tracking) -> None:
        self._change(event, tracking, status="paid", paid_at=int(event.at))

    @process_event.register
    def _voided(self, event: Invoice.Voided, tracking: Tracking) -> None:
        self._change(event, tracking, status="void", voided_at=int(event.at),
                     void_reason=event.reason)

    def _change(self, event: Any, tracking: Tracking, **values: Any) -> None:
        table = self.view.table
        self.view.record(tracking, lambda conn: conn.execute(
            update(table).where(table.c.id == event.originator_id.hex).values(
                version=event.originator_version, **values)))
