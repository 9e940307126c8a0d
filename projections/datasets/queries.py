"""Queries behind the dataset routes; they read only the projection."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Engine, MetaData, Table, select

from projections.datasets.projection import PROJECTION_NAME
from projections.datasets.tables import datasets_table
from projections.generations import GenerationRegistry, LiveTables
from projections.page_cache import Page, Presenter, ProjectionPages
from projections.paging import Row, equal


class DatasetQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 pages: ProjectionPages | None = None) -> None:
        self.engine = engine
        self.pages = pages or ProjectionPages(engine)
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
                 purpose: str | None = None, project_id: str | None = None,
                 present: Presenter = dict) -> Page:
        table = self._current()
        values = {"org_id": org_id, "purpose": purpose, "project_id": project_id}
        given = {name: value for name, value in values.items() if value is not None}
        return self.pages.newest_first(table, _listed_datasets, given, after=after,
                                       limit=limit, present=present)


def _listed_datasets(table: Table, names: Collection[str]) -> list[ColumnElement[bool]]:
    return [*equal(table, names, "org_id"), table.c.status != "deleted",
            *equal(table, names, "purpose", "project_id")]
