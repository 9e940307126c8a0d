"""Queries behind the dataset routes; they read only the projection."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, select

from projections.datasets.projection import PROJECTION_NAME
from projections.datasets.tables import datasets_table
from projections.generations import GenerationRegistry, LiveTables
from projections.paging import Row, newest_first


class DatasetQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry) -> None:
        self.engine = engine
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME,
                                   lambda g: datasets_table(g, MetaData()))

    def dataset(self, org_id: str, dataset_id: str) -> Row | None:
        table = self._current()
        query = select(table).where(table.c.id == dataset_id, table.c.org_id == org_id,
                                    table.c.status != "deleted")
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def datasets(self, org_id: str, *, after: str | None, limit: int,
                 purpose: str | None = None,
                 project_id: str | None = None) -> tuple[list[Row], bool]:
        table = self._current()
        scope = [table.c.org_id == org_id, table.c.status != "deleted"]
        if purpose is not None:
            scope.append(table.c.purpose == purpose)
        if project_id is not None:
            scope.append(table.c.project_id == project_id)
        with self.engine.connect() as conn:
            return newest_first(conn, table, scope, after=after, limit=limit)
