"""Queries behind GET /v1/audit/events: one organization's rows across every audit log.

Each log has its own read model (its own tables and generation); a page is one UNION ALL
over their active tables, newest first by (time, log, position): a key no write changes, so
pages are stable while others write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, Select, literal, select, tuple_, union_all

from projections.audit.tables import AuditTables, audit_tables
from projections.generations import GenerationRegistry
from projections.paging import Row


@dataclass(frozen=True)
class AuditLog:
    """One audit read model: its name and the log it reads (`log` in entry ids)."""

    read_model: str
    log: str


@dataclass(frozen=True)
class AuditFilter:
    org_id: str
    resource_id: str | None = None
    resource_type: str | None = None
    actor_id: str | None = None
    type: str | None = None
    start_us: int | None = None
    end_us: int | None = None


@dataclass(frozen=True)
class Cursor:
    log: str
    position: int


class AuditQueries:
    def __init__(self, engine: Engine, generations: GenerationRegistry,
                 logs: Sequence[AuditLog]) -> None:
        self.engine, self.generations, self.logs = engine, generations, list(logs)
        self._tables: dict[tuple[str, int], AuditTables] = {}

    def _tables_of(self, audit_log: AuditLog) -> AuditTables:
        key = (audit_log.read_model, self.generations.active(audit_log.read_model))
        if key not in self._tables:
            self._tables[key] = audit_tables(*key)
        return self._tables[key]

    def events(self, where: AuditFilter, *, after: Cursor | None,
               limit: int) -> tuple[list[Row], bool]:
        """A page of the organization's rows, newest first; (rows, has_more). An `after` the
        organization does not have gives an empty page."""
        parts = [self._select(audit_log, where) for audit_log in self.logs]
        with self.engine.connect() as conn:
            everything = union_all(*parts).subquery()
            query = select(everything)
            if after is not None:
                key = self._cursor_key(conn, where.org_id, after)
                if key is None:
                    return [], False
                query = query.where(tuple_(everything.c.at_us, everything.c.log,
                                           everything.c.position) < tuple_(*key))
            rows = conn.execute(query.order_by(
                everything.c.at_us.desc(), everything.c.log.desc(),
                everything.c.position.desc()).limit(limit + 1)).mappings()
            page = [dict(row) for row in rows]
        return page[:limit], len(page) > limit

    def _select(self, audit_log: AuditLog, where: AuditFilter) -> Select[tuple[object, ...]]:
        table = self._tables_of(audit_log).events
        conditions: list[ColumnElement[bool]] = [table.c.org_id == where.org_id]
        for column, value in ((table.c.resource_id, where.resource_id),
                              (table.c.resource_type, where.resource_type),
                              (table.c.actor_id, where.actor_id), (table.c.type, where.type)):
            if value is not None:
                conditions.append(column == value)
        if where.start_us is not None:
            conditions.append(table.c.at_us >= where.start_us)
        if where.end_us is not None:
            conditions.append(table.c.at_us < where.end_us)
        return select(literal(audit_log.log).label("log"), table).where(*conditions)

    def _cursor_key(self, conn: Connection, org_id: str,
                    after: Cursor) -> tuple[int, str, int] | None:
        audit_log = next((item for item in self.logs if item.log == after.log), None)
        if audit_log is None:
            return None
        table = self._tables_of(audit_log).events
        at = conn.execute(select(table.c.at_us).where(
            table.c.position == after.position, table.c.org_id == org_id)).scalar()
        return None if at is None else (at, after.log, after.position)
