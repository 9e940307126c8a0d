"""`bitstride billing reconcile` on SQLite and Postgres: clean, then each kind of tampering.

Each test records usage through the Usage application, lets the usage projection catch up,
changes one thing behind Bitstride's back (a projection row, an event row) and runs the
command as the operator would, checking that it names the organization, meter, model and day.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql
from sqlalchemy import func, insert, select, update

from application.usage.service import NewUsage
from domain.billing.period import Period
from domain.shared.cause import SYSTEM
from domain.shared.ids import format_id
from domain.usage.record import usage_id
from infra.settings import Settings
from interfaces.cli.billing_reconcile import reconcile
from interfaces.control_plane import ControlPlane
from projections.usage.projection import PROJECTION_NAME
from projections.usage.reconciliation import snapshot
from projections.usage.tables import UsageTables, usage_tables
from tests.support.billing import billing_settings

DAY = 1_795_000_000 - 1_795_000_000 % 86400  # 2026-11-18, a UTC midnight
DAY_NAME, NEXT_MONTH = "2026-11-18", 1_796_083_200  # 2026-12-01
MARCH = 1_772_323_200  # 2026-03-01, a closed period
INPUT, OUTPUT = "inference.input_tokens", "inference.output_tokens"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(settings, embedded_auth=False)
    yield plane
    plane.close()


ORG, OTHER = uuid4(), uuid4()


def usage(source: str, quantity: int, at: float, *, org: UUID = ORG, meter: str = INPUT,
          model: str | None = "model_a", key: str | None = "key_1") -> NewUsage:
    return NewUsage(source_kind="request", source_id=source, meter=meter, quantity=quantity,
                    org_id=org, project_id=None, occurred_at=at, model=model, api_key_id=key)


def record(plane: ControlPlane, *items: NewUsage, project: bool = True) -> None:
    plane.usage.record(list(items), cause=SYSTEM)
    if project:
        plane.read_models.runner(PROJECTION_NAME, 1).catch_up()


@pytest.fixture
def recorded(plane: ControlPlane) -> ControlPlane:
    """Two organizations, two meters, two keys (one bucket sums across them), two days."""
    record(plane, usage("r1", 10, DAY + 5), usage("r2", 7, DAY + 3600, key="key_2"),
           usage("r3", 40, DAY + 60, meter=OUTPUT), usage("r4", 3, DAY + 86400 + 1),
           usage("r5", 100, DAY + 9, org=OTHER, model=None))
    return plane


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(reconcile, list(args), obj=settings)


def tables(plane: ControlPlane) -> UsageTables:
    return usage_tables(plane.generations.active(PROJECTION_NAME, fresh=True))


def day_bucket(t: UsageTables, org: UUID, meter: str, model: str = "model_a",
               key: str = "key_1") -> Any:
    b = t.buckets
    return (b.c.org_id == org.hex, b.c.width == "1d", b.c.start == DAY, b.c.meter == meter,
            b.c.model == model, b.c.api_key_id == key)


def assert_names(result: Result, *cells: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if all(c in line for c in cells)]
    assert lines, f"no line names {cells}:\n{result.output}"


def test_a_clean_log_and_projection_reconcile_even_while_it_lags(
        settings: Settings, recorded: ControlPlane) -> None:
    result = run(settings)
    assert result.exit_code == 0, result.output
    assert "reconciled: 5 records, 4 day totals, " in result.output
    assert "no differences" in result.output
    record(recorded, usage("r7", 11, DAY + 7), project=False)  # the worker has not run yet
    behind = run(settings)
    assert behind.exit_code == 0, behind.output
    assert "1 newer records were left out of the comparison" in behind.output
    assert "reconciled: 6 records, " in behind.output


def test_a_corrupted_projection_row_is_named(settings: Settings, recorded: ControlPlane) -> None:
    t = tables(recorded)
    with recorded.read_engine.begin() as conn:
        conn.execute(update(t.buckets).where(*day_bucket(t, ORG, OUTPUT))
                     .values(quantity=t.buckets.c.quantity + 5))
    result = run(settings)
    assert_names(result, f"org_{ORG.hex}", DAY_NAME, OUTPUT, "model_a", "40", "45",
                 "quantity +5")
    assert "1 difference" in result.output


def test_a_missing_event_is_named(settings: Settings, recorded: ControlPlane) -> None:
    delete_event(settings, recorded, usage_id("request", "r2", INPUT))
    result = run(settings)
    # The day's total lost r2's 7 tokens and its record; its projected row has no event.
    assert_names(result, f"org_{ORG.hex}", DAY_NAME, INPUT, "model_a", "10", "17",
                 "quantity +7; records 1 in the log, 2 projected")
    assert_names(result, f"org_{ORG.hex}", DAY_NAME, INPUT, "has no event in the log")


def test_a_double_counted_record_is_named(settings: Settings, recorded: ControlPlane) -> None:
    t = tables(recorded)
    with recorded.read_engine.begin() as conn:  # r5 applied a second time to its day bucket
        conn.execute(update(t.buckets).where(*day_bucket(t, OTHER, INPUT, model=""))
                     .values(quantity=t.buckets.c.quantity + 100,
                             records=t.buckets.c.records + 1))
        # and r4's row copied, as if its event had been applied under another id
        row = dict(conn.execute(select(t.records).where(t.records.c.source_id == "r4"))
                   .mappings().one())
        top = conn.execute(select(func.max(t.records.c.seq))).scalar_one()
        conn.execute(insert(t.records).values({**row, "id": uuid4().hex, "seq": top + 1}))
    result = run(settings)
    assert_names(result, f"org_{OTHER.hex}", DAY_NAME, INPUT, "100", "200",
                 "quantity +100; records 1 in the log, 2 projected")
    assert_names(result, f"org_{ORG.hex}", "2026-11-19", INPUT, "model_a",
                 "has no event in the log")


def test_a_period_limits_the_comparison_to_its_month(settings: Settings,
                                                     recorded: ControlPlane) -> None:
    record(recorded, usage("r6", 9, NEXT_MONTH + 1))
    t = tables(recorded)
    with recorded.read_engine.begin() as conn:  # corrupt November only
        conn.execute(update(t.buckets).where(*day_bucket(t, ORG, OUTPUT)).values(quantity=0))
    december = run(settings, "--period", "2026-12")
    assert december.exit_code == 0, december.output
    assert "reconciled: 1 records, 1 day totals, " in december.output
    assert_names(run(settings, "--period", "2026-11"), DAY_NAME, OUTPUT, "quantity -40")


def test_a_snapshot_does_not_see_what_commits_while_it_reads(recorded: ControlPlane) -> None:
    buckets = tables(recorded).buckets
    total = select(func.sum(buckets.c.quantity))
    with snapshot(recorded.read_engine) as conn:
        before = conn.execute(total).scalar()
        record(recorded, usage("r8", 5, DAY))  # the projection commits rows and position
        assert conn.execute(total).scalar() == before
    with recorded.read_engine.connect() as conn:
        assert conn.execute(total).scalar() == before + 3 * 5


def test_finalized_invoices_reconcile_and_a_lost_event_shows_on_its_line(
        settings: Settings, tmp_path: Path) -> None:
    priced = billing_settings(settings, tmp_path)
    plane = ControlPlane(priced, embedded_auth=False)
    try:
        record(plane, usage("m1", 1000, MARCH + 5), usage("m2", 500, MARCH + 86400, meter=OUTPUT),
               usage("a1", 9, NEXT_MONTH))  # after March: on no March invoice
        closing = plane.billing.prepare_close(Period(2026, 3), now=time.time())
        invoice = plane.billing.close_invoice(ORG, closing).aggregate
        clean = run(priced)
        assert clean.exit_code == 0, clean.output
        assert "reconciled: 3 records, 3 day totals, 1 invoices; no differences" in clean.output
        delete_event(priced, plane, usage_id("request", "m2", OUTPUT))
    finally:
        plane.close()
    result = run(priced, "--period", "2026-03")
    assert_names(result, f"org_{ORG.hex}", "2026-03", OUTPUT, "model_a", "500",
                 f"{format_id('inv', invoice.id)}: a line without usage in the log")
    assert_names(result, f"org_{ORG.hex}", "2026-03-02", OUTPUT, "has no event in the log")


def test_a_malformed_period_is_a_usage_error(sqlite_settings: Settings) -> None:
    result = run(sqlite_settings, "--period", "2026-13")
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def delete_event(settings: Settings, plane: ControlPlane, originator_id: UUID) -> None:
    """Remove a usage event's row from the event store, as an attacker or a bad restore
    would: SQLite keeps every context in one `stored_events` table, Postgres one table per
    application in the events schema."""
    table = plane.usage.recorder.events_table_name
    if settings.database_url is None:
        with sqlite3.connect(settings.events_sqlite_path) as conn:
            deleted = conn.execute(f"DELETE FROM {table} WHERE originator_id = ?",
                                   (originator_id.hex,)).rowcount
    else:
        with psycopg.connect(settings.database_url, autocommit=True) as pg:
            deleted = pg.execute(sql.SQL("DELETE FROM {} WHERE originator_id = %s").format(
                sql.Identifier(settings.database_schema, table)), (originator_id,)).rowcount
    assert deleted == 1
