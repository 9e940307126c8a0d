"""The invoices table; one per projection generation. Only finalized invoices have rows: a
draft is computed live, never stored."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table


def invoices_table(generation: int, metadata: MetaData) -> Table:
    table = Table(
        f"invoices_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("period", String(7), nullable=False),  # 'YYYY-MM'
        Column("status", String(16), nullable=False),
        Column("currency", String(8), nullable=False),
        # [{meter, model, quantity, unit_price, unit, amount, records}], as the event has them.
        Column("lines", JSON, nullable=False),
        Column("subtotal", String(40), nullable=False),
        Column("total", String(40), nullable=False),
        Column("price_book_version", Integer, nullable=False),
        Column("usage_position", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("finalized_at", BigInteger, nullable=False),
        Column("paid_at", BigInteger, nullable=True),
        Column("voided_at", BigInteger, nullable=True),
        Column("void_reason", String(500), nullable=True),
        Column("version", Integer, nullable=False),
    )
    # One invoice per organization and period; lists go newest period first.
    Index(f"ix_invoices_g{generation}_org_period", table.c.org_id, table.c.period, unique=True)
    return table
