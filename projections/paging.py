"""Keyset pagination by creation position: newest first, stable while others write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Result, Table, select

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
    page = row_dicts(conn.execute(query.order_by(table.c.seq.desc()).limit(limit + 1)))
    return page[:limit], len(page) > limit


def row_dicts(result: Result[Any]) -> list[Row]:
    """Rows as dicts, the column names read once per result: `dict(row)` of a RowMapping
    builds a view of its keys for every row, a few percent of a page's CPU."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]
