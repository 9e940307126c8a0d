"""Invoices: finalized ones from the invoice projection, drafts computed live from usage.

The list holds, newest period first, the open period's draft, the previous period's draft
while it is not closed yet (the worker closes it after BILLING_CLOSE_GRACE_SECONDS) and has
usage, and every finalized, paid or void invoice. Invoices belong to the organization: a key
restricted to one project may not read them. Another organization's invoice is 404.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from domain.billing.invoice import Invoice as InvoiceAggregate
from domain.billing.invoice import invoice_id as id_of_invoice
from domain.billing.period import Period
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import etag
from interfaces.http.docs import errors
from interfaces.http.invoice_presenter import (
    PREFIX,
    day_of,
    draft_row,
    invoice_from_row,
    invoice_row,
    lines_of,
    record_of,
)
from interfaces.http.invoice_schemas import Invoice, LineUsage
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.schemas import ListPage, page_of
from interfaces.http.security import Principal, require_scope

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]
Status = Literal["draft", "finalized", "paid", "void"]
Row = dict[str, Any]


def drafts(plane: ControlPlane, org: UUID, now: float) -> list[Row]:
    """The open period's draft, and the previous period's while it is unclosed with usage."""
    current = Period.of(now)
    found = [draft_row(plane.billing.draft(org, current))]
    previous = current.previous()
    if plane.invoice_queries.invoice(org.hex, id_of_invoice(org, previous).hex) is None:
        unclosed = draft_row(plane.billing.draft(org, previous))
        if unclosed["lines"]:
            found.append(unclosed)
    return found


def visible(plane: ControlPlane, principal: Principal, public_id: str) -> Row:
    """The caller's invoice or draft by its public id, else 404."""
    target = parse_id(PREFIX, public_id).hex
    row = plane.invoice_queries.invoice(principal.org_hex, target)
    if row is None:
        row = next((draft for draft in drafts(plane, principal.org_id, time.time())
                    if draft["id"] == target), None)
    if row is None:
        raise NotFoundError(f"No such invoice: {public_id!r}.")
    return row


class InvoicesController(Controller):
    path = "/v1/invoices"
    tags = ["Invoices"]

    @get(sync_to_thread=True, operation_id="listInvoices",
         summary="List the organization's invoices with their lines, newest period first",
         description="Includes the open period's live `draft` (and the previous period's "
                     "until it is closed). `status` and `period` ('YYYY-MM') filter.",
         responses=errors(400, 401, 403))
    def list(self, principal: NamedDependency[Principal], plane: NamedDependency[ControlPlane],
             *, status: Annotated[Status | None, QueryParameter()] = None,
             period: Annotated[str | None, QueryParameter(
                 description="A month, 'YYYY-MM' (UTC).")] = None,
             limit: Limit = 20, after: After = None) -> ListPage[Invoice]:
        require_scope(principal, "billing:read", org_wide=True)
        wanted = Period.parse(period).name if period else None
        before = self._cursor(plane, principal, after) if after else None
        if after and before is None:
            return page_of([], [], has_more=False)
        rows = plane.invoice_queries.invoices(principal.org_hex, before=before,
                                              limit=limit + 1, status=status, period=wanted)
        if status in (None, "draft"):
            rows += [row for row in drafts(plane, principal.org_id, time.time())
                     if wanted in (None, row["period"]) and (before is None
                                                             or row["period"] < before)]
        rows.sort(key=lambda row: row["period"], reverse=True)
        items = [invoice_from_row(row) for row in rows[:limit]]
        return page_of(items, [item.id for item in items], len(rows) > limit)

    @staticmethod
    def _cursor(plane: ControlPlane, principal: Principal, after: str) -> str | None:
        """The period of the invoice `after` names (None: not the caller's)."""
        try:
            return visible(plane, principal, after)["period"]  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    @get("/{invoice_id:str}", sync_to_thread=True, operation_id="getInvoice",
         summary="Get an invoice (or a live draft) with its lines",
         description=POINT_IN_TIME + " A draft has no history: only a finalized invoice "
                                     "can be read at a version or time.",
         responses=errors(400, 401, 403, 404))
    def retrieve(self, invoice_id: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Invoice]:
        require_scope(principal, "billing:read", org_wide=True)
        when = point_in_time(as_of, version)
        if when is not None:
            then = load_at(plane.billing, InvoiceAggregate, parse_id(PREFIX, invoice_id), when,
                           what="invoice",
                           visible=lambda invoice: invoice.org_id == principal.org_id)
            return Response(invoice_from_row(invoice_row(then)), headers=etag(then.version))
        row = visible(plane, principal, invoice_id)
        return Response(invoice_from_row(row), headers=etag(row["version"]))

    @get("/{invoice_id:str}/lines/{index:int}/usage", sync_to_thread=True,
         operation_id="getInvoiceLineUsage",
         summary="Trace an invoice line to the usage it sums: its days and its records",
         description="`buckets`: one per UTC day with usage of the line's meter and model in "
                     "the period; `records`: those usage records (of a finalized invoice, the "
                     "ones up to its `usage_position`) in log order, paginated with `after` "
                     "(a record id) and `limit`. The buckets' quantities add up to the line's.",
         responses=errors(400, 401, 403, 404))
    def line_usage(self, invoice_id: FromPath[str], index: FromPath[int],
                   principal: NamedDependency[Principal], plane: NamedDependency[ControlPlane],
                   *, limit: Limit = 20, after: After = None) -> LineUsage:
        require_scope(principal, "billing:read", org_wide=True)
        row = visible(plane, principal, invoice_id)
        lines = lines_of(row)
        if not 0 <= index < len(lines):
            raise NotFoundError(f"Invoice {invoice_id} has no line {index}.", param="index")
        line, period = lines[index], Period.parse(row["period"])
        scope = {"start": period.start, "end": period.end, "up_to": row["usage_position"]}
        days = plane.usage_queries.line_days(principal.org_hex, line.meter, line.model, **scope)
        records, has_more = plane.usage_queries.line_records(
            principal.org_hex, line.meter, line.model, after=after, limit=limit, **scope)
        shown = [record_of(record) for record in records]
        return LineUsage(invoice_id=invoice_id, line=line, buckets=[day_of(d) for d in days],
                         records=page_of(shown, [r.id for r in shown], has_more))
