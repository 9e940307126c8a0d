"""Billing reconciliation: usage recomputed from the log, compared with what was derived from it.

The log is the record; the usage projection and finalized invoices are derived from it. This
module replays the usage events and compares, on plain values, (a) the projection's 1-day
totals and record rows and (b) each finalized invoice's lines with what the log says, and lists
every difference. It reads no database: the caller passes the projection's snapshot and the
invoices in, so each rule is tested on values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.application import Application

from domain.billing.period import Period
from domain.billing.pricing import line_amount, total_of
from domain.usage.record import UsageRecord

CREATED_TOPIC = f"{UsageRecord.TOPIC}.Created"
DAY_SECONDS = 86400
PAGE_SIZE = 1000


def day_name(day: int) -> str:
    """A UTC day as 'YYYY-MM-DD'."""
    return datetime.fromtimestamp(day, UTC).date().isoformat()


# -- what is compared --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One usage record as the log holds it, or as a projection row holds it."""

    id: str  # the record's aggregate id, hex
    seq: int  # the notification id of its Created event
    org_id: str  # hex
    meter: str
    model: str  # '' when the record names none, as in the projection
    quantity: int
    occurred_at: float

    @property
    def day(self) -> int:
        return int(self.occurred_at // DAY_SECONDS) * DAY_SECONDS

    @property
    def period(self) -> str:
        return Period.of(self.occurred_at).name


class DayKey(NamedTuple):
    org_id: str
    day: int  # unix seconds of the UTC midnight that starts it
    meter: str
    model: str


class Tally(NamedTuple):
    quantity: int
    records: int


NONE = Tally(0, 0)


@dataclass(frozen=True)
class ProjectedUsage:
    """The usage projection as of one tracking position (a consistent snapshot)."""

    position: int
    days: Mapping[DayKey, Tally]  # 1-day buckets summed over project and API key
    records: Sequence[UsageEntry]

    @classmethod
    def of(cls, position: int, days: Iterable[Mapping[str, Any]],
           records: Iterable[Mapping[str, Any]]) -> ProjectedUsage:
        """From rows: days with org_id, start, meter, model, quantity and records; records
        with UsageEntry's fields."""
        return cls(position, {DayKey(row["org_id"], row["start"], row["meter"], row["model"]):
                              Tally(row["quantity"], row["records"]) for row in days},
                   [UsageEntry(**row) for row in records])


class ChargedLine(Protocol):
    @property
    def meter(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> str: ...
    @property
    def unit(self) -> int: ...
    @property
    def amount(self) -> str: ...


class ChargedInvoice(Protocol):
    @property
    def invoice_id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def usage_position(self) -> int: ...  # the last usage notification it counted
    @property
    def total(self) -> str: ...
    @property
    def lines(self) -> Sequence[ChargedLine]: ...


class FinalizedInvoices(Protocol):
    """What billing offers reconciliation: the finalized invoices, of one period or all."""

    def finalized_invoices(self, period: str | None) -> Sequence[ChargedInvoice]: ...


@dataclass(frozen=True)
class Difference:
    """One disagreement: where, the three sides' quantities (None: absent), and what."""

    org_id: str
    when: str  # a UTC day 'YYYY-MM-DD' or a period 'YYYY-MM'
    meter: str
    model: str
    what: str
    log: int | None = None
    projection: int | None = None
    invoice: int | None = None


@dataclass(frozen=True)
class Reconciliation:
    records: int  # log records compared
    day_totals: int  # (org, day, meter, model) totals compared with the projection
    invoices: int
    differences: list[Difference]


# -- replaying the log -------------------------------------------------------------------------


def replay_usage(app: Application[UUID], *, until: int, period: str | None = None,
                 progress: Callable[[int], None] = lambda _: None) -> Iterator[UsageEntry]:
    """Every usage record in the log up to notification `until` (that occurred in `period`
    when given), oldest first, read in pages.

    `app` is the Usage application. The topic filter matters: on SQLite every context shares
    one events table. `progress` gets how many notification ids each page advanced.
    """
    bounds = Period.parse(period) if period else None
    begin, end = (bounds.start, bounds.end) if bounds else (float("-inf"), float("inf"))
    start: int | None = None
    while True:
        page = app.recorder.select_notifications(
            start, PAGE_SIZE, stop=until, topics=[CREATED_TOPIC],
            inclusive_of_start=start is None)
        for notification in page:
            entry = entry_of(app.mapper.to_domain_event(notification), notification.id)
            if begin <= entry.occurred_at < end:
                yield entry
        if not page:
            break
        progress(page[-1].id - (start or 0))
        start = page[-1].id
    progress(max(until - (start or 0), 0))


def entry_of(event: Any, seq: int) -> UsageEntry:
    """The entry of a UsageRecord.Created event carried by notification `seq`."""
    return UsageEntry(id=event.originator_id.hex, seq=seq, org_id=event.org_id.hex,
                      meter=str(event.meter), model=event.model or "",
                      quantity=event.quantity, occurred_at=event.occurred_at)


# -- comparing ---------------------------------------------------------------------------------


def day_totals(entries: Iterable[UsageEntry]) -> dict[DayKey, Tally]:
    totals: dict[DayKey, Tally] = {}
    for entry in entries:
        key = DayKey(entry.org_id, entry.day, entry.meter, entry.model)
        quantity, records = totals.get(key, NONE)
        totals[key] = Tally(quantity + entry.quantity, records + 1)
    return totals


def compare_days(log: Mapping[DayKey, Tally],
                 projected: Mapping[DayKey, Tally]) -> list[Difference]:
    """Each (org, day, meter, model): the same quantity and number of records on both sides."""
    differences = []
    for key in sorted(log.keys() | projected.keys()):
        ours, theirs = log.get(key, NONE), projected.get(key, NONE)
        if ours == theirs:
            continue
        what = []
        if ours.quantity != theirs.quantity:
            what.append(f"quantity {theirs.quantity - ours.quantity:+d}")
        if ours.records != theirs.records:
            what.append(f"records {ours.records} in the log, {theirs.records} projected")
        differences.append(Difference(
            key.org_id, day_name(key.day), key.meter, key.model, "; ".join(what),
            log=ours.quantity if key in log else None,
            projection=theirs.quantity if key in projected else None))
    return differences


def compare_records(log: Iterable[UsageEntry],
                    projected: Iterable[UsageEntry]) -> list[Difference]:
    """Each projected record row matches exactly one event, field for field, and back."""
    differences: list[Difference] = []
    events = _by_id(log, "the log", differences)
    rows = _by_id(projected, "the projection", differences)
    for record_id in sorted(events.keys() | rows.keys(),
                            key=lambda i: (events.get(i) or rows[i]).seq):
        event, row = events.get(record_id), rows.get(record_id)
        if row is None:
            assert event is not None
            differences.append(_about(event, f"record {record_id} (#{event.seq}) has no "
                                             "projected row", log=event.quantity))
        elif event is None:
            differences.append(_about(row, f"projected record {record_id} (#{row.seq}) has "
                                           "no event in the log", projection=row.quantity))
        elif event != row:
            unequal = ", ".join(
                f"{name} {getattr(event, name)!r} in the log, {getattr(row, name)!r} projected"
                for name in (f.name for f in fields(UsageEntry))
                if getattr(event, name) != getattr(row, name))
            differences.append(_about(event, f"record {record_id}: {unequal}",
                                      log=event.quantity, projection=row.quantity))
    return differences


def _by_id(entries: Iterable[UsageEntry], side: str,
           differences: list[Difference]) -> dict[str, UsageEntry]:
    seen: dict[str, UsageEntry] = {}
    for entry in entries:
        if entry.id in seen:
            differences.append(_about(entry, f"record {entry.id} twice in {side} "
                                             f"(#{seen[entry.id].seq}, #{entry.seq})"))
        seen.setdefault(entry.id, entry)
    return seen


def _about(entry: UsageEntry, what: str, **quantities: int) -> Difference:
    return Difference(entry.org_id, day_name(entry.day), entry.meter, entry.model, what,
                      **quantities)


def compare_invoices(invoices: Iterable[ChargedInvoice],
                     log: Iterable[UsageEntry]) -> list[Difference]:
    """Each invoice line's quantity is the log's total for its org, period, meter and model
    over the records the invoice counted (notification id up to its usage position); a line
    exists exactly where such records do (even of quantity 0); each amount is the price
    applied to the quantity (domain/billing/pricing.py); the total sums the line amounts."""
    by_month: dict[tuple[str, str], list[UsageEntry]] = defaultdict(list)
    for entry in log:
        by_month[entry.org_id, entry.period].append(entry)
    differences = []
    for invoice in invoices:
        counted: dict[tuple[str, str], int] = defaultdict(int)
        for entry in by_month[invoice.org_id, invoice.period]:
            if entry.seq <= invoice.usage_position:
                counted[entry.meter, entry.model] += entry.quantity
        billed: dict[tuple[str, str], int] = defaultdict(int)
        for line in invoice.lines:
            billed[line.meter, line.model] += line.quantity
            expected = line_amount(line.quantity, line.unit_price, line.unit)
            if Decimal(line.amount) != expected:
                differences.append(Difference(
                    invoice.org_id, invoice.period, line.meter, line.model,
                    f"{invoice.invoice_id}: amount {line.amount}, the price gives {expected}",
                    invoice=line.quantity))
        for meter, model in sorted(counted.keys() | billed.keys()):
            ours, theirs = counted.get((meter, model)), billed.get((meter, model))
            if ours != theirs:
                what = "no line for this usage" if theirs is None else \
                    "a line without usage in the log" if ours is None else \
                    f"quantity {theirs - ours:+d}"
                differences.append(Difference(invoice.org_id, invoice.period, meter, model,
                                              f"{invoice.invoice_id}: {what}",
                                              log=ours, invoice=theirs))
        lines_sum = total_of(line.amount for line in invoice.lines)
        if Decimal(invoice.total) != lines_sum:
            differences.append(Difference(
                invoice.org_id, invoice.period, "", "",
                f"{invoice.invoice_id}: total {invoice.total}, the lines sum to {lines_sum}"))
    return differences


def reconcile(log: Sequence[UsageEntry], projected: ProjectedUsage,
              invoices: Sequence[ChargedInvoice] = ()) -> Reconciliation:
    """Compare the log with the projection (over the records it has applied: notification id
    up to its position) and, when given, with the finalized invoices."""
    applied = [entry for entry in log if entry.seq <= projected.position]
    totals = day_totals(applied)
    differences = compare_days(totals, projected.days) \
        + compare_records(applied, projected.records)
    differences += compare_invoices(invoices, log)
    differences.sort(key=lambda d: (d.org_id, d.when, d.meter, d.model))  # stable: by place
    return Reconciliation(records=len(log), day_totals=len(totals.keys() | projected.days.keys()),
                          invoices=len(invoices), differences=differences)
