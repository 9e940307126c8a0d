"""Reconciliation's comparisons on plain values: the projection, record rows and invoices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from application.billing import reconciliation
from application.billing.reconciliation import (
    ChargedInvoice,
    DayKey,
    FinalizedInvoices,
    ProjectedUsage,
    Tally,
    UsageEntry,
    compare_days,
    compare_invoices,
    compare_records,
    day_totals,
    reconcile,
    replay_usage,
)
from application.usage.service import NewUsage, UsageService
from domain.billing.pricing import line_amount
from domain.shared.cause import SYSTEM

DAY = 1_795_000_000 - 1_795_000_000 % 86400  # 2026-11-18
ORG, OTHER = "a" * 32, "b" * 32
IN, OUT = "inference.input_tokens", "inference.output_tokens"


def entry(seq: int, quantity: int, *, at: float = DAY + 10, org: str = ORG, meter: str = IN,
          model: str = "m") -> UsageEntry:
    return UsageEntry(id=f"{seq:032x}", seq=seq, org_id=org, meter=meter, model=model,
                      quantity=quantity, occurred_at=at)


LOG = [entry(1, 10), entry(2, 5, at=DAY + 3600), entry(3, 7, meter=OUT),
       entry(4, 2, at=DAY + 86400), entry(5, 100, org=OTHER, model="")]


def projected(log: Sequence[UsageEntry], position: int = 5) -> ProjectedUsage:
    return ProjectedUsage(position, day_totals(log), list(log))


# -- the projection ----------------------------------------------------------------------------


def test_day_totals_sum_quantities_and_count_records_per_org_day_meter_model() -> None:
    assert day_totals(LOG) == {
        DayKey(ORG, DAY, IN, "m"): Tally(15, 2), DayKey(ORG, DAY, OUT, "m"): Tally(7, 1),
        DayKey(ORG, DAY + 86400, IN, "m"): Tally(2, 1),
        DayKey(OTHER, DAY, IN, ""): Tally(100, 1)}


def test_equal_sides_have_no_differences() -> None:
    result = reconcile(LOG, projected(LOG))
    assert (result.records, result.day_totals, result.invoices) == (5, 4, 0)
    assert result.differences == []


def test_a_day_total_off_names_its_place_and_both_quantities() -> None:
    days = {**day_totals(LOG), DayKey(ORG, DAY, OUT, "m"): Tally(9, 1)}
    [difference] = compare_days(day_totals(LOG), days)
    assert (difference.org_id, difference.when, difference.meter, difference.model) \
        == (ORG, "2026-11-18", OUT, "m")
    assert (difference.log, difference.projection, difference.what) == (7, 9, "quantity +2")


def test_a_day_only_one_side_has_shows_the_other_as_absent() -> None:
    days = day_totals(LOG)
    del days[DayKey(OTHER, DAY, IN, "")]
    days[DayKey(OTHER, DAY, OUT, "")] = Tally(3, 1)
    missing, extra = compare_days(day_totals(LOG), days)
    assert (missing.log, missing.projection, missing.meter) == (100, None, IN)
    assert missing.what == "quantity -100; records 1 in the log, 0 projected"
    assert (extra.log, extra.projection, extra.meter) == (None, 3, OUT)


def test_each_record_row_matches_exactly_one_event() -> None:
    rows = [LOG[0], replace(LOG[1], seq=9), replace(LOG[2], quantity=8), LOG[3],
            entry(6, 1)]  # LOG[4] has no row; entry 6 has no event
    found = {d.what: d for d in compare_records(LOG, rows)}
    assert set(found) == {
        f"record {LOG[1].id}: seq 2 in the log, 9 projected",
        f"record {LOG[2].id}: quantity 7 in the log, 8 projected",
        f"record {LOG[4].id} (#5) has no projected row",
        f"projected record {entry(6, 1).id} (#6) has no event in the log"}
    assert found[f"record {LOG[4].id} (#5) has no projected row"].org_id == OTHER


def test_an_event_twice_in_the_log_is_a_difference() -> None:
    [twice] = compare_records([*LOG, replace(LOG[0], seq=6)], LOG)
    assert twice.what == f"record {LOG[0].id} twice in the log (#1, #6)"


def test_records_beyond_the_projection_position_are_not_compared_with_it() -> None:
    result = reconcile(LOG, projected(LOG[:3], position=3))
    assert result.differences == []
    assert reconcile(LOG, projected(LOG[:3], position=4)).differences[0].log == 2


def test_differences_come_sorted_by_place() -> None:
    rows = [replace(row, quantity=row.quantity + 1) for row in LOG]
    places = [(d.org_id, d.when, d.meter, d.model)
              for d in reconcile(LOG, ProjectedUsage(5, day_totals(rows), rows)).differences]
    assert places == sorted(places) and len(places) == 9


# -- invoices (a fake of billing's finalized invoices) -----------------------------------------


@dataclass(frozen=True)
class Line:
    meter: str
    model: str
    quantity: int
    unit_price: str = "2"
    unit: int = 1000
    amount: str = ""

    def __post_init__(self) -> None:
        if not self.amount:  # priced right unless a test says otherwise
            amount = line_amount(self.quantity, self.unit_price, self.unit)
            object.__setattr__(self, "amount", f"{amount:f}")


@dataclass(frozen=True)
class Invoice:
    lines: tuple[Line, ...]
    total: str
    org_id: str = ORG
    period: str = "2026-11"
    usage_position: int = 5
    invoice_id: str = "inv_1"


def invoice(*lines: Line, total: str = "", **fields: str | int) -> Invoice:
    """An invoice of `lines` whose total is their sum unless a test says otherwise."""
    total = total or f"{sum(Decimal(line.amount) for line in lines):f}"
    return Invoice(lines, total, **fields)  # type: ignore[arg-type]


@dataclass
class FakeBilling:
    invoices: list[ChargedInvoice]

    def finalized_invoices(self, period: str | None) -> list[ChargedInvoice]:
        return [i for i in self.invoices if period is None or i.period == period]


RIGHT = invoice(Line(IN, "m", 17), Line(OUT, "m", 7))


def check(*invoices: ChargedInvoice, log: Sequence[UsageEntry] = LOG) -> list[str]:
    billing: FinalizedInvoices = FakeBilling(list(invoices))
    return [d.what for d in compare_invoices(billing.finalized_invoices(None), log)]


def test_an_invoice_that_bills_what_the_log_holds_has_no_differences() -> None:
    other = invoice(Line(IN, "", 100), org_id=OTHER, invoice_id="inv_2")
    assert check(RIGHT, other) == []
    result = reconcile(LOG, projected(LOG), [RIGHT, other])
    assert result.invoices == 2 and result.differences == []


def test_only_records_up_to_the_invoice_usage_position_count() -> None:
    early = invoice(Line(IN, "m", 15), Line(OUT, "m", 7), usage_position=3)
    assert check(early) == []
    late = [*LOG, entry(6, 1, at=DAY + 99)]  # recorded after the invoice was closed
    assert check(RIGHT, log=late) == []
    assert check(replace(RIGHT, usage_position=6), log=late) == ["inv_1: quantity -1"]


def test_a_line_quantity_off_or_missing_on_either_side_is_named() -> None:
    off = invoice(Line(IN, "m", 18), Line(OUT, "m", 7))
    [difference] = compare_invoices([off], LOG)
    assert (difference.when, difference.meter, difference.model) == ("2026-11", IN, "m")
    assert (difference.log, difference.invoice, difference.what) == (17, 18, "inv_1: quantity +1")
    assert check(invoice(RIGHT.lines[0])) == ["inv_1: no line for this usage"]
    zero = [*LOG, entry(6, 0, meter="rl.grader_calls")]
    assert check(replace(RIGHT, usage_position=6), log=zero) \
        == ["inv_1: no line for this usage"]
    extra = invoice(*RIGHT.lines, Line("rl.grader_calls", "m", 0))
    assert check(extra) == ["inv_1: a line without usage in the log"]


def test_a_line_priced_wrong_or_a_total_that_is_not_the_sum_is_named() -> None:
    wrong = invoice(Line(IN, "m", 17, amount="0.035"), RIGHT.lines[1])
    assert check(wrong) == ["inv_1: amount 0.035, the price gives 0.034000"]
    assert check(replace(RIGHT, total="1")) == ["inv_1: total 1, the lines sum to 0.048000"]


# -- replaying the log -------------------------------------------------------------------------


class Unrelated(Aggregate):
    """Another context's event in the same log (SQLite shares one table)."""


def test_the_replay_reads_every_usage_record_in_pages_within_the_period(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciliation, "PAGE_SIZE", 2)
    app = UsageService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    org = uuid4()
    app.record([NewUsage("request", f"r{i}", IN, i, org, None, DAY + i * 10 * 86400,
                         model="m" if i % 2 else None) for i in range(5)], cause=SYSTEM)
    app.save(Unrelated())
    head = app.recorder.max_notification_id() or 0
    advanced: list[int] = []
    entries = list(replay_usage(app, until=head, progress=advanced.append))
    assert [(e.seq, e.quantity, e.model, e.org_id) for e in entries] \
        == [(i + 1, i, "m" if i % 2 else "", org.hex) for i in range(5)]
    assert sum(advanced) == head == 6
    november = list(replay_usage(app, until=head, period="2026-11"))
    assert [e.quantity for e in november] == [0, 1]  # Nov 18 and 28; Dec 8 is later
    assert len(list(replay_usage(app, until=3))) == 3

