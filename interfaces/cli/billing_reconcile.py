"""`bitstride billing reconcile`: prove from the log alone that usage and invoices are right.

Order matters for a live system: finalized invoices are read first (each counted usage up to
a position in the log), then one snapshot of the usage projection with its position, then the
log head; the replay runs to that head. So a worker appending and projecting meanwhile never
shows up as a difference: the projection is compared over the records it had applied, each
invoice over the records it counted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import click

from application.billing.reconciliation import (
    Difference,
    FinalizedInvoices,
    ProjectedUsage,
    Reconciliation,
    replay_usage,
)
from application.billing.reconciliation import reconcile as compare
from domain.billing.period import Period
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import format_id
from infra.settings import Settings
from interfaces.cli.serving import build_plane
from projections.usage.reconciliation import usage_snapshot

COLUMNS = ("ORG", "DAY/PERIOD", "METER", "MODEL", "LOG", "PROJECTION", "INVOICE", "DIFFERENCE")


def _period(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Period | None:
    try:
        return Period.parse(value) if value is not None else None
    except ValidationFailedError as error:
        raise click.BadParameter(error.message) from None


@click.command(help="Replay usage from the event log; compare its totals per organization, "
                    "meter, model and UTC day with the usage projection and with finalized "
                    "invoices; print the differences and exit 1 if there is any.")
@click.option("--period", metavar="YYYY-MM", callback=_period,
              help="Only usage that occurred in this UTC month, and its invoices.")
@click.pass_obj
def reconcile(settings: Settings, period: Period | None) -> None:
    plane = build_plane(settings, embedded_auth=False)
    try:
        result, notes = _reconcile(plane, period)
    finally:
        plane.close()
    if result.differences:
        click.echo(_table(result.differences))
    for note in notes:
        click.echo(note)
    found = len(result.differences)
    click.echo(f"reconciled: {result.records} records, {result.day_totals} day totals, "
               f"{result.invoices} invoices; "
               + (f"{found} difference{'s' * (found != 1)}" if found else "no differences"))
    if found:
        raise click.exceptions.Exit(1)


def _reconcile(plane: Any, period: Period | None) -> tuple[Reconciliation, list[str]]:
    billing: FinalizedInvoices = plane.billing
    invoices = billing.finalized_invoices(period.name if period else None)
    snapshot = usage_snapshot(plane.read_engine, plane.generations, plane.usage.name,
                              between=(period.start, period.end) if period else None)
    head = plane.usage.recorder.max_notification_id() or 0
    with click.progressbar(length=head, label="Replaying usage events", show_pos=True,
                           file=sys.stderr) as bar:
        log = list(replay_usage(plane.usage, until=head,
                                period=period.name if period else None, progress=bar.update))
    notes = []
    unprojected = sum(entry.seq > snapshot.position for entry in log)
    if unprojected:
        notes.append(f"projection: at #{snapshot.position} of #{head}; {unprojected} newer "
                     "records were left out of the comparison with it (it is catching up)")
    projected = ProjectedUsage.of(snapshot.position, snapshot.days, snapshot.records)
    return compare(log, projected, invoices), notes


def _table(differences: Sequence[Difference]) -> str:
    rows = [COLUMNS, *([format_id("org", UUID(hex=d.org_id)), d.when, d.meter or "-",
                        d.model or "-", _count(d.log), _count(d.projection),
                        _count(d.invoice), d.what] for d in differences)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                                row[-1]]) for row in rows)


def _count(quantity: int | None) -> str:
    return "-" if quantity is None else str(quantity)
