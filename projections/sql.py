"""Dialect-neutral SQL helpers (SQLite for `make run`, Postgres in production).

Each statement is built once per table, dialect and column set, with bound parameters, and
reused: projections run these per event, and building a statement cost more than running it.
Inside a view's batch the rows are queued and sent together (projections/write_buffer.py).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from projections.write_buffer import write, write_counter


def _insert(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).values({column: bindparam(column) for column in columns})


@functools.lru_cache(maxsize=512)
def _upsert(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> Any:
    statement = _insert(dialect, table, columns)
    updates = {k: statement.excluded[k] for k in columns if k not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=updates)


@functools.lru_cache(maxsize=512)
def _insert_or_add(dialect: str, table: Table, columns: tuple[str, ...],
                   keys: tuple[str, ...], add: tuple[str, ...]) -> Any:
    statement = _insert(dialect, table, columns)
    sums = {column: table.c[column] + statement.excluded[column] for column in add}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=sums)


def upsert(conn: Connection, table: Table, values: Mapping[str, Any],
           keys: Sequence[str]) -> None:
    """Insert a row or overwrite it by its key, in one statement on either dialect."""
    write(conn, _upsert(conn.dialect.name, table, tuple(values), tuple(keys)), values)


def insert_or_add(conn: Connection, table: Table, values: Mapping[str, Any],
                  keys: Sequence[str], add: Sequence[str]) -> None:
    """Insert a row, or add its `add` columns to the existing row's (a counter upsert)."""
    write_counter(conn, _insert_or_add(conn.dialect.name, table, tuple(values), tuple(keys),
                                       tuple(add)), values, keys, add)
