"""Queries behind the model routes; they read only the projection."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import ColumnElement, Engine, MetaData, Table, bindparam, func, or_, select

from domain.catalog.values import ID_LIKE
from projections.generations import GenerationRegistry, LiveTables
from projections.models.projection import PROJECTION_NAME
from projections.models.tables import models_table
from projections.page_cache import Page, Presenter, ProjectionPages
from projections.paging import Row


class ModelQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 pages: ProjectionPages | None = None) -> None:
        self.engine = engine
        self.pages = pages or ProjectionPages(engine)
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME,
                                   lambda g: models_table(g, MetaData()))


    @staticmethod
    def _visible(table: Table, org_id: str) -> ColumnElement[bool]:
        """The caller's models and every base model."""
        return or_(table.c.org_id == org_id, table.c.kind == "base")

    def model(self, org_id: str, model_id: str) -> Row | None:
        table = self._current()
        query = select(table).where(self._visible(table, org_id), table.c.id == model_id,
                                    table.c.status != "deleted")
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def model_by_name(self, org_id: str, name: str) -> Row | None:
        """The organization's own model of that name first, else the base model."""
        table = self._current()
        query = (select(table)
                 .where(self._visible(table, org_id), table.c.status != "deleted",
                        func.lower(table.c.name) == name.lower())
                 .order_by((table.c.kind == "base").asc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def resolve(self, org_id: str, reference: str) -> Row | None:
        """A model by id (`model_<hex>`) or by name, as the OpenAI API accepts either."""
        if ID_LIKE.match(reference):
            return self.model(org_id, reference.removeprefix("model_"))
        return self.model_by_name(org_id, reference)

    def by_ids(self, model_ids: Iterable[str]) -> dict[str, Row]:
        """Models by hex id, whatever their organization (the gateway's routing table joins
        the deployments it routes to with their models' names); deleted ones are left out."""
        wanted = sorted(set(model_ids))
        if not wanted:
            return {}
        table = self._current()
        query = select(table.c.id, table.c.kind, table.c.org_id, table.c.name,
                       table.c.created_at).where(table.c.id.in_(wanted),
                                                 table.c.status != "deleted")
        with self.engine.connect() as conn:
            return {row["id"]: dict(row) for row in conn.execute(query).mappings()}

    def models(self, org_id: str, *, after: str | None, limit: int,
               present: Presenter = dict) -> Page:
        table = self._current()
        return self.pages.newest_first(table, _listed_models, {"org_id": org_id},
                                       after=after, limit=limit, present=present)


def _listed_models(table: Table, _names: Collection[str]) -> list[ColumnElement[bool]]:
    return [or_(table.c.org_id == bindparam("org_id"), table.c.kind == "base"),
            table.c.status != "deleted"]
