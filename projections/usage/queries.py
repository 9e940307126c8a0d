"""Queries on the usage read model: bucket rows in a time range, for the usage API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, Table, case, func, select

from projections.generations import GenerationRegistry, LiveTables
from projections.paging import Row, row_dicts
from projections.usage.projection import PROJECTION_NAME
from projections.usage.tables import WIDTHS, usage_tables

DAY = WIDTHS["1d"]


class UsageQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry) -> None:
        self.engine = engine
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME, usage_tables)

    def buckets(self, org_id: str, width: str, *, start: int, end: int,
                project_ids: Sequence[str] = (), models: Sequence[str] = (),
                meters: Sequence[str] = ()) -> list[Row]:
        """Bucket rows of one width whose start is in [start, end), oldest first; each
        non-empty filter keeps only the rows with one of its values."""
        table = self._current().buckets
        query = select(table).where(table.c.org_id == org_id, table.c.width == width,
                                    table.c.start >= start, table.c.start < end)
        for column, values in ((table.c.project_id, project_ids), (table.c.model, models),
                               (table.c.meter, meters)):
            if values:
                query = query.where(column.in_(list(values)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.start, table.c.meter, table.c.model,
                                               table.c.project_id, table.c.api_key_id))
            return row_dicts(rows)

    # -- billing: sums per meter and model, and the records behind them ------------------------

    def day_totals(self, org_id: str, *, start: int, end: int) -> list[Row]:
        """Per meter and model, the org's 1-day buckets in [start, end) summed (live drafts)."""
        table = self._current().buckets
        query = (select(table.c.meter, table.c.model,
                        func.sum(table.c.quantity).label("quantity"),
                        func.sum(table.c.records).label("records"))
                 .where(table.c.org_id == org_id, table.c.width == "1d",
                        table.c.start >= start, table.c.start < end)
                 .group_by(table.c.meter, table.c.model))
        with self.engine.connect() as conn:
            return row_dicts(conn.execute(query))

    def record_totals(self, org_id: str, *, start: int, end: int, up_to: int) -> list[Row]:
        """Per meter and model, the org's records with occurred_at in [start, end) and
        seq ≤ `up_to` (what an invoice sums)."""
        table = self._current().records
        query = (select(table.c.meter, table.c.model,
                        func.sum(table.c.quantity).label("quantity"),
                        func.count().label("records"))
                 .where(table.c.org_id == org_id, table.c.occurred_at >= start,
                        table.c.occurred_at < end, table.c.seq <= up_to)
                 .group_by(table.c.meter, table.c.model))
        with self.engine.connect() as conn:
            return row_dicts(conn.execute(query))

    def organizations(self, *, start: int, end: int) -> list[str]:
        """Hex ids of the organizations with a 1-day bucket in [start, end), sorted."""
        table = self._current().buckets
        query = (select(table.c.org_id).distinct()
                 .where(table.c.width == "1d", table.c.start >= start, table.c.start < end)
                 .order_by(table.c.org_id))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def first_day(self) -> int | None:
        """The start of the earliest 1-day bucket of any organization."""
        table = self._current().buckets
        query = select(func.min(table.c.start)).where(table.c.width == "1d")
        with self.engine.connect() as conn:
            first: int | None = conn.execute(query).scalar()
            return first

    def line_days(self, org_id: str, meter: str, model: str, *, start: int, end: int,
                  up_to: int | None) -> list[Row]:
        """One row per UTC day in [start, end) with records of this meter and model (and seq
        ≤ `up_to` when given): the day's start, summed quantity and record count. Days are
        told apart by comparisons on `occurred_at`, so the sums equal the records' exactly."""
        table = self._current().records
        days = range(start - start % DAY, end, DAY)
        scope = self._line(table, org_id, meter, model, start=start, end=end, up_to=up_to)
        day = case(*((table.c.occurred_at < first + DAY, first) for first in days)
                   ).label("start")
        query = (select(day, func.sum(table.c.quantity).label("quantity"),
                        func.count().label("records"))
                 .where(*scope)
                 .group_by(day).order_by(day))
        with self.engine.connect() as conn:
            return row_dicts(conn.execute(query))

    def line_records(self, org_id: str, meter: str, model: str, *, start: int, end: int,
                     up_to: int | None, after: str | None, limit: int) -> tuple[list[Row], bool]:
        """The records of this meter and model in [start, end) (seq ≤ `up_to` when given), in
        log order, one page after the record `after`; (rows, has_more)."""
        table = self._current().records
        scope = self._line(table, org_id, meter, model, start=start, end=end, up_to=up_to)
        query = select(table).where(*scope)
        with self.engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(select(table.c.seq).where(table.c.id == after,
                                                                *scope)).scalar()
                if cursor is None:
                    return [], False
                query = query.where(table.c.seq > cursor)
            rows = [dict(row) for row in
                    conn.execute(query.order_by(table.c.seq).limit(limit + 1)).mappings()]
        return rows[:limit], len(rows) > limit

    @staticmethod
    def _line(table: Table, org_id: str, meter: str, model: str, *, start: int, end: int,
              up_to: int | None) -> list[ColumnElement[bool]]:
        scope = [table.c.org_id == org_id, table.c.meter == meter, table.c.model == model,
                 table.c.occurred_at >= start, table.c.occurred_at < end]
        if up_to is not None:
            scope.append(table.c.seq <= up_to)
        return scope
