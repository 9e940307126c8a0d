"""Queries behind the deployment routes and the gateway; they read only the projection."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, MetaData, Table, select

from domain.serving.status import ROUTABLE
from projections.generations import GenerationRegistry, LiveTables
from projections.page_cache import Page, Presenter, ProjectionPages
from projections.paging import Row, equal
from projections.serving.projection import PROJECTION_NAME
from projections.serving.tables import deployments_table


@dataclass(frozen=True)
class Route:
    """A deployment the gateway may send requests to: ids as the rows hold them (hex; the
    model's public `model_…` id) and its ready replicas' URLs, by replica id."""

    deployment_id: str
    org_id: str
    project_id: str | None
    model: str
    status: str
    urls: tuple[str, ...]


class DeploymentQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 pages: ProjectionPages | None = None) -> None:
        self.engine = engine
        self.pages = pages or ProjectionPages(engine)
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME,
                                   lambda g: deployments_table(g, MetaData()))

    def deployments_table(self) -> Table:
        return self._current()

    def deployment(self, org_id: str, deployment_id: str) -> Row | None:
        table = self._current()
        query = select(table).where(table.c.id == deployment_id, table.c.org_id == org_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def deployments(self, org_id: str, *, after: str | None, limit: int,
                    project_id: str | None = None, present: Presenter = dict) -> Page:
        """`project_id`: only that project's deployments (what a project key sees)."""
        table = self._current()
        values = {"org_id": org_id}
        if project_id is not None:
            values["project_id"] = project_id
        return self.pages.newest_first(table, _deployments, values, after=after, limit=limit,
                                       present=present)

    def routable(self, *, org_id: str | None = None, model: str | None = None) -> list[Route]:
        """Every deployment `ready` or `updating` with at least one ready replica, oldest
        first; `org_id` (hex) and `model` (`model_…`) narrow it."""
        table = self._current()
        query = select(table.c.id, table.c.org_id, table.c.project_id, table.c.model,
                       table.c.status, table.c.replicas).where(
            table.c.status.in_([status.value for status in ROUTABLE]))
        if org_id is not None:
            query = query.where(table.c.org_id == org_id)
        if model is not None:
            query = query.where(table.c.model == model)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.seq.asc())).mappings().all()
        routes = []
        for row in rows:
            replicas = row["replicas"] or {}
            urls = tuple(replicas[key]["url"] for key in sorted(replicas)
                         if replicas[key]["status"] == "ready" and replicas[key]["url"])
            if urls:
                routes.append(Route(deployment_id=row["id"], org_id=row["org_id"],
                                    project_id=row["project_id"], model=row["model"],
                                    status=row["status"], urls=urls))
        return routes


def _deployments(table: Table, names: Collection[str]) -> list[ColumnElement[bool]]:
    return equal(table, names, "org_id", "project_id")
