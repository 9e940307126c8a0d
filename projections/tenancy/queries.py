"""Queries behind the organization and project routes; they read only the projection."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, select

from projections.generations import GenerationRegistry, LiveTables
from projections.memory_reads import need_query
from projections.page_cache import Page, Presenter, ProjectionPages
from projections.paging import equal
from projections.tenancy.projection import PROJECTION_NAME
from projections.tenancy.tables import tenancy_tables

Row = dict[str, Any]


class TenancyQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 pages: ProjectionPages | None = None) -> None:
        self.engine = engine
        self.pages = pages or ProjectionPages(engine)
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME, tenancy_tables)

    def organization(self, org_id: str) -> Row | None:
        table = self._current().organizations
        query = select(table).where(table.c.id == org_id, table.c.state == "active")
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def organization_state(self, org_id: str) -> str | None:
        """"active", "deleted", or None when the projection has not seen it (yet)."""
        table = self._current().organizations
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.state).where(table.c.id == org_id)).scalar()

    def project(self, org_id: str, project_id: str) -> Row | None:
        table = self._current().projects
        query = select(table).where(table.c.id == project_id, table.c.org_id == org_id,
                                    table.c.state == "active")
        need_query()  # a project key's list of projects asks for its one project
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def projects(self, org_id: str, *, after: str | None, limit: int,
                 present: Presenter = dict) -> Page:
        """Newest first; `after` is the last id of the previous page. Returns (rows, has_more),
        each row made into `present(row)` (see `ProjectionPages`)."""
        table = self._current().projects
        return self.pages.newest_first(table, _active_projects, {"org_id": org_id},
                                       after=after, limit=limit, present=present)

    def project_ids(self, org_id: str) -> list[str]:
        table = self._current().projects
        query = select(table.c.id).where(table.c.org_id == org_id)
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]


def _active_projects(table: Table, names: Collection[str]) -> list[ColumnElement[bool]]:
    return [*equal(table, names, "org_id"), table.c.state == "active"]
