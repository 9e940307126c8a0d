"""Response bodies of the invoice routes. Amounts are decimal strings in US dollars."""

from __future__ import annotations

import msgspec

from interfaces.http.schemas import ListPage


class InvoiceLine(msgspec.Struct):
    """`quantity` units of `meter` used with `model` ('' when none) over the period, at
    `unit_price` dollars per `unit` units: `amount` = quantity * unit_price / unit, rounded
    half-up to 6 decimals. `records`: how many usage records it sums."""

    index: int
    meter: str
    model: str
    quantity: int
    unit_price: str
    unit: int
    amount: str
    records: int


class Invoice(msgspec.Struct):
    """One organization's charges for one period (a UTC month). `draft`: the period is not
    closed yet, computed live and changing (no `usage_position`, version 0); `finalized`:
    closed, its lines fixed, summing the usage records up to `usage_position`."""

    id: str
    object: str
    organization_id: str
    period: str
    period_start: int
    period_end: int
    status: str
    currency: str
    lines: list[InvoiceLine]
    subtotal: str
    total: str
    price_book_version: int
    usage_position: int | None
    created_at: int
    finalized_at: int | None
    paid_at: int | None
    voided_at: int | None
    void_reason: str | None
    version: int
    allowed_actions: list[str]


class LineDay(msgspec.Struct):
    """One UTC day of the line: the quantity and records of that day it sums."""

    start_time: int
    end_time: int
    quantity: int
    records: int
    object: str = "bucket"


class LineRecord(msgspec.Struct):
    """One usage record the line sums. `id` is the record's aggregate id and `seq` the
    notification id of its event in the usage log."""

    id: str
    seq: int
    occurred_at: float
    quantity: int
    source_kind: str
    source_id: str
    project_id: str | None
    api_key_id: str | None
    deployment_id: str | None
    object: str = "usage.record"


class LineUsage(msgspec.Struct):
    """What an invoice line sums: its days (all of them) and its records (one page)."""

    invoice_id: str
    line: InvoiceLine
    buckets: list[LineDay]
    records: ListPage[LineRecord]
    object: str = "invoice.line_usage"
