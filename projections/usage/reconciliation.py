"""The usage projection as reconciliation reads it: one consistent snapshot.

The live runner may commit while reconciliation reads, so the active generation's 1-day
totals, its record rows and its tracking position are read in one snapshot transaction
(REPEATABLE READ on Postgres; one read transaction on SQLite's WAL): the rows are exactly the
records up to that position, and the log can be replayed up to the same position to compare.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, inspect, select

from projections.generations import GenerationRegistry
from projections.paging import Row
from projections.tracking import tracking_table
from projections.usage.projection import PROJECTION_NAME
from projections.usage.tables import usage_tables


@dataclass(frozen=True)
class UsageSnapshot:
    position: int  # the last notification the projection applied (0: none yet)
    days: list[Row]  # org_id, start, meter, model, quantity, records: over projects and keys
    records: list[Row]  # id, seq, org_id, meter, model, quantity, occurred_at; by seq


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one committed state throughout."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                conn.begin():
            yield conn
        return
    with engine.connect() as conn, conn.begin():
        # pysqlite only begins before writes; an explicit BEGIN pins the snapshot at the
        # first read, and the transaction's rollback ends it.
        conn.exec_driver_sql("BEGIN")
        yield conn


def usage_snapshot(engine: Engine, generations: GenerationRegistry, application_name: str, *,
                   between: tuple[int, int] | None = None) -> UsageSnapshot:
    """The active generation's rows (usage that occurred in [start, end) when `between` is
    given) and its position in `application_name`'s log."""
    generation = generations.active(PROJECTION_NAME, fresh=True)
    tables = usage_tables(generation)
    buckets, records = tables.buckets, tables.records
    if not inspect(engine).has_table(records.name):
        return UsageSnapshot(0, [], [])  # the projection never ran
    days = select(buckets.c.org_id, buckets.c.start, buckets.c.meter, buckets.c.model,
                  func.sum(buckets.c.quantity).label("quantity"),
                  func.sum(buckets.c.records).label("records")
                  ).where(buckets.c.width == "1d").group_by(
        buckets.c.org_id, buckets.c.start, buckets.c.meter, buckets.c.model)
    rows = select(records.c.id, records.c.seq, records.c.org_id, records.c.meter,
                  records.c.model, records.c.quantity, records.c.occurred_at
                  ).order_by(records.c.seq)
    if between is not None:
        start, end = between
        days = days.where(buckets.c.start >= start, buckets.c.start < end)
        rows = rows.where(records.c.occurred_at >= start, records.c.occurred_at < end)
    position = select(tracking_table.c.notification_id).where(
        tracking_table.c.tracker == f"{PROJECTION_NAME}@{generation}",
        tracking_table.c.application_name == application_name)
    with snapshot(engine) as conn:
        at = conn.execute(position).scalar() or 0
        day_rows = [{**row, "quantity": int(row["quantity"]), "records": int(row["records"])}
                    for row in conn.execute(days).mappings()]  # Postgres sums are numeric
        record_rows = [dict(row) for row in conn.execute(rows).mappings()]
    return UsageSnapshot(at, day_rows, record_rows)
