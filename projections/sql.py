"""Dialect-neutral SQL helpers (SQLite for `make run`, Postgres in production)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, values: Mapping[str, Any],
           keys: Sequence[str]) -> None:
    """Insert a row or overwrite it by its key, in one statement on either dialect."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    updates = {k: statement.excluded[k] for k in values if k not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))


def insert_or_add(conn: Connection, table: Table, values: Mapping[str, Any],
                  keys: Sequence[str], add: Sequence[str]) -> None:
    """Insert a row, or add its `add` columns to the existing row's (a counter upsert)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    sums = {column: table.c[column] + statement.excluded[column] for column in add}
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=sums))
