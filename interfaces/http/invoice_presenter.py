"""Invoice objects for the API, from read-model rows; a draft (`draft_row`) and an invoice
rebuilt from its events (`invoice_row`) are first shaped as rows, so all share one presenter."""

from __future__ import annotations

from typing import Any

from application.billing.service import Draft
from domain.billing.invoice import Invoice as InvoiceAggregate
from domain.billing.period import Period
from domain.billing.status import InvoiceStatus, allowed_actions
from interfaces.http.invoice_schemas import Invoice, InvoiceLine, LineDay, LineRecord

PREFIX = "inv"
DAY = 86400


def draft_row(draft: Draft) -> dict[str, Any]:
    """A draft as the projection would write it: never finalized, version 0."""
    return {"id": draft.id.hex, "org_id": draft.org_id.hex, "period": draft.period.name,
            "status": InvoiceStatus.DRAFT.value, "currency": draft.currency,
            "lines": [line.as_dict() for line in draft.lines], "subtotal": draft.total,
            "total": draft.total, "price_book_version": draft.price_book_version,
            "usage_position": None, "created_at": draft.period.start, "finalized_at": None,
            "paid_at": None, "voided_at": None, "void_reason": None, "version": 0}


def invoice_row(invoice: InvoiceAggregate) -> dict[str, Any]:
    """A stored invoice, rebuilt from its events, as the projection's row holds it."""
    finalized = int(invoice.finalized_at)
    return {"id": invoice.id.hex, "org_id": invoice.org_id.hex, "period": invoice.period,
            "status": invoice.status.value, "currency": invoice.currency,
            "lines": [line.as_dict() for line in invoice.lines], "subtotal": invoice.subtotal,
            "total": invoice.total, "price_book_version": invoice.price_book_version,
            "usage_position": invoice.usage_position, "created_at": finalized,
            "finalized_at": finalized, "paid_at": _whole(invoice.paid_at),
            "voided_at": _whole(invoice.voided_at), "void_reason": invoice.void_reason,
            "version": invoice.version}


def _whole(at: float | None) -> int | None:
    return None if at is None else int(at)


def lines_of(row: dict[str, Any]) -> list[InvoiceLine]:
    return [InvoiceLine(index=index, **line) for index, line in enumerate(row["lines"])]


def invoice_from_row(row: dict[str, Any]) -> Invoice:
    period = Period.parse(row["period"])
    return Invoice(
        id=f"{PREFIX}_{row['id']}", object="invoice", organization_id=f"org_{row['org_id']}",
        period=period.name, period_start=period.start, period_end=period.end,
        status=row["status"], currency=row["currency"], lines=lines_of(row),
        subtotal=row["subtotal"], total=row["total"],
        price_book_version=row["price_book_version"], usage_position=row["usage_position"],
        created_at=row["created_at"], finalized_at=row["finalized_at"],
        paid_at=row["paid_at"], voided_at=row["voided_at"], void_reason=row["void_reason"],
        version=row["version"],
        allowed_actions=list(allowed_actions(InvoiceStatus(row["status"]))))


def day_of(row: dict[str, Any]) -> LineDay:
    return LineDay(start_time=row["start"], end_time=row["start"] + DAY,
                   quantity=int(row["quantity"]), records=int(row["records"]))


def record_of(row: dict[str, Any]) -> LineRecord:
    project = row["project_id"]
    return LineRecord(
        id=row["id"], seq=row["seq"], occurred_at=row["occurred_at"], quantity=row["quantity"],
        source_kind=row["source_kind"], source_id=row["source_id"],
        project_id=f"proj_{project}" if project else None,
        api_key_id=row["api_key_id"] or None, deployment_id=row["deployment_id"] or None)
