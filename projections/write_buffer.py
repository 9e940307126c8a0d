"""Sends a projection batch's row writes in one round trip per run of the same statement.

Inside a view's batch, `upsert` and `insert_or_add` queue their rows on the connection instead
of executing them one by one. The queue runs, each table's rows in event order, as
`executemany` (psycopg sends the rows pipelined, one statement each) before any other
statement on that connection and at the batch's end: every read, update and the tracking
position still see the rows before them.
A rebuild spent most of its time waiting on one round trip per event before this.

Counter rows (`write_counter`) are summed while queued: the events of a batch that add to
the same counter (every usage record of a minute adds to that minute's bucket) send it one
row, not one per event. Additions commute, so the row the batch leaves is the same.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event

BUFFER = "bitstride.write_buffer"
COUNTERS = "bitstride.write_buffer.counters"  # counter rows queued, by statement and keys


@contextlib.contextmanager
def buffered(conn: Connection) -> Iterator[None]:
    """Queue `write`s on `conn` until the block ends (dropped unsent if it raises)."""
    _flush_before_other_statements(conn.engine)
    conn.info[BUFFER] = []
    try:
        yield
        flush(conn)
    finally:
        conn.info.pop(BUFFER, None)  # info lives with the pooled DBAPI connection
        conn.info.pop(COUNTERS, None)


def write(conn: Connection, statement: Any, params: Mapping[str, Any]) -> None:
    """Execute now, or queue when `conn` is inside `buffered`. `statement` must be a cached
    object: consecutive rows of the same object go out as one executemany."""
    queue: list[tuple[Any, dict[str, Any]]] | None = conn.info.get(BUFFER)
    if queue is None:
        conn.execute(statement, dict(params))
    else:
        queue.append((statement, dict(params)))


def write_counter(conn: Connection, statement: Any, params: Mapping[str, Any],
                  keys: Sequence[str], columns: Sequence[str]) -> None:
    """`write` for a counter upsert (`statement` inserts the row or adds its `columns` to the
    row with the same `keys`): a row queued earlier in the batch with the same keys takes the
    amounts instead of a new row being queued."""
    queue: list[tuple[Any, dict[str, Any]]] | None = conn.info.get(BUFFER)
    if queue is None:
        conn.execute(statement, dict(params))
        return
    counters: dict[tuple[Any, ...], dict[str, Any]] = conn.info.setdefault(COUNTERS, {})
    key = (id(statement), *(params[name] for name in keys))
    queued = counters.get(key)
    if queued is None:
        counters[key] = row = dict(params)
        queue.append((statement, row))
        return
    for name in columns:
        queued[name] += params[name]


def flush(conn: Connection) -> None:
    """Each table's rows in their order, as few executemany calls as runs of one statement.

    Tables go one after the other: read-model tables have no foreign keys or triggers
    between them, so only the order within a table matters. A projection that writes two
    tables per event (the audit log: subjects, then events) would otherwise alternate
    statements and send one row per call."""
    queue: list[tuple[Any, dict[str, Any]]] | None = conn.info.get(BUFFER)
    if not queue:
        return
    by_table: dict[Any, list[tuple[Any, dict[str, Any]]]] = {}
    for entry in queue:
        by_table.setdefault(getattr(entry[0], "table", entry[0]), []).append(entry)
    queue.clear()  # before executing: the statements below pass through the hook again
    conn.info.pop(COUNTERS, None)  # rows queued from now on start new sums
    for entries in by_table.values():
        for _, run in itertools.groupby(entries, key=lambda entry: id(entry[0])):
            rows = list(run)
            conn.execute(rows[0][0], [params for _, params in rows])


def _flush_first(conn: Connection, *_: Any) -> None:
    flush(conn)


def _flush_before_other_statements(engine: Engine) -> None:
    if not event.contains(engine, "before_execute", _flush_first):
        event.listen(engine, "before_execute", _flush_first)
