"""Queries on the usage read model: bucket rows in a time range, for the usage API."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from projections.generations import GenerationRegistry
from projections.paging import Row
from projections.usage.projection import PROJECTION_NAME
from projections.usage.tables import UsageTables, usage_tables


class UsageQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry) -> None:
        self.engine = engine
        self.generations = generations
        self._tables: dict[int, UsageTables] = {}

    def _current(self) -> UsageTables:
        generation = self.generations.active(PROJECTION_NAME)
        if generation not in self._tables:
            self._tables[generation] = usage_tables(generation)
        return self._tables[generation]

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
            return [dict(row) for row in rows.mappings()]
