"""Queries behind the job routes; they read only the projection.

Jobs page by job id (newest first, like every list); events and checkpoints page by their
`seq` (the public event/checkpoint id's number), newest first like OpenAI's.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Engine, Table, select

from projections.generations import GenerationRegistry, LiveTables
from projections.page_cache import Page, Presenter, ProjectionPages
from projections.paging import Row, equal
from projections.training.projection import PROJECTION_NAME
from projections.training.tables import training_tables


class TrainingQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 pages: ProjectionPages | None = None) -> None:
        self.engine = engine
        self.pages = pages or ProjectionPages(engine)
        self.generations = generations
        self._current = LiveTables(generations, PROJECTION_NAME, training_tables)

    def jobs_table(self) -> Table:
        return self._current().jobs

    def job(self, org_id: str, job_id: str) -> Row | None:
        table = self._current().jobs
        query = select(table).where(table.c.id == job_id, table.c.org_id == org_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def jobs(self, org_id: str, *, kind: str, after: str | None, limit: int,
             project_id: str | None = None, present: Presenter = dict) -> Page:
        """`project_id`: only that project's jobs (what a project key sees)."""
        table = self._current().jobs
        values = {"org_id": org_id, "kind": kind}
        if project_id is not None:
            values["project_id"] = project_id
        return self.pages.newest_first(table, _jobs, values, after=after, limit=limit,
                                       present=present)

    def events(self, org_id: str, job_id: str, *, after: int | None,
               limit: int) -> tuple[list[Row], bool]:
        """The job's feed, newest first; `after` is the last `seq` of the previous page."""
        return self._by_seq(self._current().events, org_id, job_id, after=after, limit=limit)

    def events_since(self, org_id: str, job_id: str, *, after: int | None,
                     limit: int) -> list[Row]:
        """The job's feed oldest first, from the first `seq` above `after` (a stream's
        cursor), at most `limit` rows."""
        table = self._current().events
        query = select(table).where(table.c.job_id == job_id, table.c.org_id == org_id)
        if after is not None:
            query = query.where(table.c.seq > after)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.seq.asc()).limit(limit)).mappings()
            return [dict(row) for row in rows]

    def checkpoints(self, org_id: str, job_id: str, *, after: int | None,
                    limit: int) -> tuple[list[Row], bool]:
        return self._by_seq(self._current().checkpoints, org_id, job_id, after=after,
                            limit=limit)

    def _by_seq(self, table: Table, org_id: str, job_id: str, *, after: int | None,
                limit: int) -> tuple[list[Row], bool]:
        query = select(table).where(table.c.job_id == job_id, table.c.org_id == org_id)
        if after is not None:
            query = query.where(table.c.seq < after)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.seq.desc()).limit(limit + 1)).mappings()
            page = [dict(row) for row in rows]
        return page[:limit], len(page) > limit


def _jobs(table: Table, names: Collection[str]) -> list[ColumnElement[bool]]:
    return equal(table, names, "org_id", "kind", "project_id")
