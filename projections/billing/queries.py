"""Queries behind the invoice routes; they read only the invoice projection."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, select

from projections.billing.projection import PROJECTION_NAME
from projections.billing.tables import invoices_table
from projections.generations import GenerationRegistry, LiveTables
from projections.paging import Row, row_dicts


class InvoiceQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry) -> None:
        self.engine = engine
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME,
                                   lambda g: invoices_table(g, MetaData()))

    def invoice(self, org_id: str, invoice_id: str) -> Row | None:
        table = self._current()
        query = select(table).where(table.c.id == invoice_id, table.c.org_id == org_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def invoices(self, org_id: str, *, before: str | None, limit: int,
                 status: str | None = None, period: str | None = None) -> list[Row]:
        """Up to `limit` of the org's invoices, newest period first, of periods before
        `before` ('YYYY-MM') when given, filtered by status and period."""
        table = self._current()
        query = select(table).where(table.c.org_id == org_id)
        for column, value in ((table.c.status, status), (table.c.period, period)):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(table.c.period < before)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.period.desc()).limit(limit))
            return row_dicts(rows)
