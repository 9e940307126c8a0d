"""The projection write buffer: fewer round trips, same order, nothing left behind.

Runs against a SQLite file and a real Postgres schema. Counts the statements the driver sees
(SQLAlchemy's `before_cursor_execute`), so a buffer that stopped batching fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, select, update

from infra.database import read_model_engine
from projections.sql import insert_or_add, upsert
from projections.write_buffer import BUFFER, buffered

metadata = MetaData()
counters = Table("counters", metadata, Column("key", String(20), primary_key=True),
                 Column("total", Integer, nullable=False))
labels = Table("labels", metadata, Column("key", String(20), primary_key=True),
               Column("label", String(20), nullable=False))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("pg_schemas")["read_model_schema"]
    else:
        schema = "unused"
    made = read_model_engine(url, tmp_path / "read.sqlite3", schema)
    metadata.create_all(made)
    yield made
    made.dispose()


class StatementLog:
    """What reaches the driver: (statement text, rows) per cursor call."""

    def __init__(self, engine: Engine) -> None:
        self.calls: list[tuple[str, int]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, parameters: object,
              _context: object, executemany: bool) -> None:
        rows = len(parameters) if executemany else 1  # type: ignore[arg-type]
        self.calls.append((statement.split(maxsplit=1)[0].upper(), rows))


def test_consecutive_rows_of_one_statement_go_out_together(engine: Engine) -> None:
    log = StatementLog(engine)
    with engine.begin() as conn, buffered(conn):
        for number in range(50):
            upsert(conn, labels, {"key": f"k{number}", "label": "x"}, ["key"])
        assert log.calls == []  # queued, not sent
    assert log.calls == [("INSERT", 50)]
    with engine.connect() as conn:
        assert conn.execute(select(labels)).all() == [(f"k{n}", "x") for n in range(50)]


def test_a_counter_touched_twice_in_one_batch_adds_both(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_or_add(conn, counters, {"key": "tokens", "total": 10}, ["key"], ["total"])
    log = StatementLog(engine)
    with engine.begin() as conn, buffered(conn):
        for amount in (1, 2, 3):
            insert_or_add(conn, counters, {"key": "tokens", "total": amount}, ["key"], ["total"])
    assert log.calls == [("INSERT", 1)]  # one row for the counter, carrying the sum
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.total)).scalar() == 16


def test_counters_are_summed_by_key_and_anew_after_a_flush(engine: Engine) -> None:
    log = StatementLog(engine)
    with engine.begin() as conn, buffered(conn):
        for key in ("a", "b", "a", "c", "b", "a"):
            insert_or_add(conn, counters, {"key": key, "total": 1}, ["key"], ["total"])
        # A read sends what is queued; what comes after it adds to the rows written.
        assert conn.execute(select(counters.c.total).where(counters.c.key == "a")).scalar() == 3
        for key in ("a", "d", "a"):
            insert_or_add(conn, counters, {"key": key, "total": 5}, ["key"], ["total"])
    assert log.calls == [("INSERT", 3), ("SELECT", 1), ("INSERT", 2)]
    with engine.connect() as conn:
        assert dict(conn.execute(select(counters.c.key, counters.c.total)).all()) == {
            "a": 13, "b": 2, "c": 1, "d": 5}


def test_any_other_statement_sees_the_queued_rows_first(engine: Engine) -> None:
    log = StatementLog(engine)
    with engine.begin() as conn, buffered(conn):
        upsert(conn, labels, {"key": "a", "label": "first"}, ["key"])
        conn.execute(update(labels).where(labels.c.key == "a").values(label="second"))
        assert conn.execute(select(labels.c.label)).scalar() == "second"
        upsert(conn, labels, {"key": "b", "label": "third"}, ["key"])
        insert_or_add(conn, counters, {"key": "c", "total": 1}, ["key"], ["total"])
        upsert(conn, labels, {"key": "c", "label": "fourth"}, ["key"])
    # After the SELECT: the two label rows together, then the counter (a table at a time).
    assert log.calls[:3] == [("INSERT", 1), ("UPDATE", 1), ("SELECT", 1)]
    assert log.calls[3:] == [("INSERT", 2), ("INSERT", 1)]
    with engine.connect() as conn:
        assert conn.execute(select(labels).order_by(labels.c.key)).all() == [
            ("a", "second"), ("b", "third"), ("c", "fourth")]


def test_a_failed_batch_sends_nothing_and_leaves_the_connection_unbuffered(
        engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn, buffered(conn):
        upsert(conn, labels, {"key": "lost", "label": "x"}, ["key"])
        raise RuntimeError("handler failed")
    with engine.begin() as conn:
        assert BUFFER not in conn.info  # the pooled connection carries no stale queue
        upsert(conn, labels, {"key": "now", "label": "y"}, ["key"])  # executes at once
        assert conn.execute(select(labels.c.key)).scalars().all() == ["now"]


def test_rows_of_two_tables_written_in_turn_go_out_a_table_at_a_time(engine: Engine) -> None:
    log = StatementLog(engine)
    with engine.begin() as conn, buffered(conn):
        for number in range(10):  # as the audit projection does: a subject, then its event
            upsert(conn, labels, {"key": f"k{number}", "label": "x"}, ["key"])
            insert_or_add(conn, counters, {"key": "events", "total": 1}, ["key"], ["total"])
        upsert(conn, labels, {"key": "k0", "label": "last"}, ["key"])  # same table: in order
    assert log.calls == [("INSERT", 11), ("INSERT", 1)]  # the counter's ten events summed
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.total)).scalar() == 10
        assert conn.execute(select(labels.c.label).where(labels.c.key == "k0")).scalar() == "last"
