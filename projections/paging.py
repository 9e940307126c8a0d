"""Keyset pagination by creation position: newest first, stable while others write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, select

Row = dict[str, Any]


def newest_first(conn: Connection, table: Table, scope: list[ColumnElement[bool]], *,
                 after: str | None, limit: int) -> tuple[list[Row], bool]:
    """One page of rows matching `scope`; `after` is the last id of the previous page.

    Returns (rows, has_more). An `after` that is not in scope gives an empty page.
    """
    query = select(table).where(*scope)
    if after is not None:
        cursor = conn.execute(select(table.c.seq).where(table.c.id == after, *scope[:1])).scalar()
        if cursor is None:
            return [], False
        query = query.where(table.c.seq < cursor)
    rows = conn.execute(query.order_by(table.c.seq.desc()).limit(limit + 1)).mappings()
    page = [dict(row) for row in rows]
    return page[:limit], len(page) > limit
