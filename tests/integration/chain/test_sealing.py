"""A store that already holds events when the chain table is first created: the existing
events are sealed into the chain in one transaction, and later appends chain on from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from infra.chain.postgres import ChainedPostgresApplicationRecorder
from infra.chain.sqlite import ChainedSQLiteApplicationRecorder
from infra.chain.verify import walk
from infra.eventstore import ensure_schema


def events(count: int) -> list[StoredEvent]:
    originator = uuid4()
    return [StoredEvent(originator, version, "t", f"s{version}".encode())
            for version in range(1, count + 1)]


def sqlite_pair(tmp_path: Path) -> tuple[Any, Any]:
    datastore = SQLiteDatastore(str(tmp_path / "events.sqlite3"))
    plain = SQLiteApplicationRecorder(datastore)
    plain.create_table()
    return plain, ChainedSQLiteApplicationRecorder(datastore)


def postgres_pair(postgres_url: str, schema: str) -> tuple[Any, Any]:
    ensure_schema(postgres_url, schema)
    url = urlsplit(postgres_url)
    datastore = PostgresDatastore(url.path.lstrip("/"), url.hostname or "", url.port or 5432,
                                  url.username or "", url.password or "", schema=schema)
    plain = PostgresApplicationRecorder(datastore)
    plain.create_table()
    return plain, ChainedPostgresApplicationRecorder(datastore)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Any]:
    if request.param == "sqlite":
        return sqlite_pair(tmp_path)
    schemas = request.getfixturevalue("pg_schemas")
    return postgres_pair(request.getfixturevalue("postgres_url"), schemas["database_schema"])


def test_existing_events_are_sealed_then_new_ones_chain_on(pair: tuple[Any, Any]) -> None:
    plain, chained = pair
    plain.insert_events(events(3))
    plain.insert_events(events(2))
    chained.create_table()
    assert [link.previous_id for link in chained.select_links(0, 99, 99)] == [0, 1, 2, 3, 4]
    assert chained.insert_events(events(2)) == [6, 7]
    checked = walk(chained, "test")
    assert checked.problem is None and checked.events == 7
    # Sealing happens once, when the chain table is created: never again over later events.
    plain.insert_events(events(1))
    chained.create_table()
    unchained = plain.select_notifications(8, 1)[0]
    assert walk(chained, "test").problem == (
        f"test: event #8 ({unchained.originator_id.hex} v1, t) has no chain row: "
        "it was added outside the chained recorder")
