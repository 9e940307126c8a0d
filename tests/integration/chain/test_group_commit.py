"""Group commit on the chained Postgres recorder (infra/group_commit.py), on a real server.

Another connection holds the events table's lock while a crowd of appends arrives, so they
queue behind the first one exactly as under load; releasing it lets them through in batches.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from infra.chain.postgres import ChainedPostgresApplicationRecorder
from infra.chain.verify import walk

pytestmark = pytest.mark.postgres
CROWD = 12
BOUND_SECONDS = 10.0


@pytest.fixture
def recorder(postgres_url: str, pg_schemas: dict[str, str]) -> Iterator[Any]:
    url = urlsplit(postgres_url)
    datastore = PostgresDatastore(
        dbname=url.path.lstrip("/"), host=url.hostname or "127.0.0.1", port=url.port or 5432,
        user=url.username or "postgres", password=url.password or "",
        schema=pg_schemas["database_schema"], pool_size=4, max_overflow=CROWD)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(pg_schemas["database_schema"])))
    made = ChainedPostgresApplicationRecorder(datastore)
    made.create_table()
    yield made
    datastore.close()


def events(originator: uuid.UUID, count: int = 2, first_version: int = 1) -> list[StoredEvent]:
    return [StoredEvent(originator_id=originator, originator_version=first_version + n,
                        topic="tests:Happened", state=b"{}") for n in range(count)]


def appended_in_a_crowd(recorder: Any, postgres_url: str,
                        batches: list[list[StoredEvent]]) -> list[Any]:
    """Each batch appended by its own thread while the table is locked, then released."""
    outcomes: list[Any] = [None] * len(batches)

    def append(index: int) -> None:
        try:
            # As Application.save calls it: with `tracking`, None outside process applications.
            outcomes[index] = recorder.insert_events(batches[index], tracking=None)
        except Exception as error:
            outcomes[index] = error

    table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
    with psycopg.connect(postgres_url) as blocker:
        blocker.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        threads = [threading.Thread(target=append, args=(i,)) for i in range(len(batches))]
        for thread in threads:
            thread.start()
        queued_or_waiting(recorder, len(batches))
        blocker.rollback()  # let the first append through; the rest have queued behind it
    for thread in threads:
        thread.join(BOUND_SECONDS)
    return outcomes


def queued_or_waiting(recorder: Any, count: int) -> None:
    """Until all but the leader (blocked on the lock) are queued behind it."""
    ready = threading.Event()
    for _ in range(int(BOUND_SECONDS / 0.01)):
        if len(recorder.group_commit._queue) >= count - 1:
            ready.set()
            break
        ready.wait(0.01)
    assert ready.is_set(), "the appends did not queue"


def test_a_crowd_of_appends_commits_in_a_few_transactions(recorder: Any,
                                                          postgres_url: str) -> None:
    originators = [uuid.uuid4() for _ in range(CROWD)]
    outcomes = appended_in_a_crowd(recorder, postgres_url, [events(o) for o in originators])

    assert all(isinstance(ids, list) and len(ids) == 2 for ids in outcomes), outcomes
    for ids in outcomes:
        assert ids[1] == ids[0] + 1  # a request's events stay together
    assert len({i for ids in outcomes for i in ids}) == 2 * CROWD
    assert recorder.group_commit.batches >= 1  # the queued ones went together
    for originator, ids in zip(originators, outcomes, strict=True):
        stored = recorder.select_events(originator)
        assert [event.originator_version for event in stored] == [1, 2]
        notifications = recorder.select_notifications(ids[0], 2)
        assert [n.originator_id for n in notifications] == [originator, originator]
    assert walk(recorder, "test").problem is None  # chained in commit order


def test_a_version_conflict_in_a_batch_fails_only_the_conflicting_append(
        recorder: Any, postgres_url: str) -> None:
    contested = uuid.uuid4()
    others = [uuid.uuid4() for _ in range(CROWD - 2)]
    batches = [events(contested), events(contested), *[events(o) for o in others]]
    outcomes = appended_in_a_crowd(recorder, postgres_url, batches)

    conflicts = [o for o in outcomes if isinstance(o, IntegrityError)]
    assert len(conflicts) == 1, outcomes
    assert sum(isinstance(o, list) for o in outcomes) == CROWD - 1
    assert [e.originator_version for e in recorder.select_events(contested)] == [1, 2]
    for originator in others:
        assert len(recorder.select_events(originator)) == 2
    assert walk(recorder, "test").problem is None


def test_a_batch_hitting_an_event_already_stored_fails_only_the_stale_append(
        recorder: Any, postgres_url: str) -> None:
    stale = uuid.uuid4()
    recorder.insert_events(events(stale, count=1))  # version 1 is taken before the crowd
    others = [uuid.uuid4() for _ in range(CROWD - 1)]
    batches = [*[events(o) for o in others[:4]], events(stale), *[events(o) for o in others[4:]]]
    outcomes = appended_in_a_crowd(recorder, postgres_url, batches)

    assert isinstance(outcomes[4], IntegrityError), outcomes
    assert all(isinstance(o, list) for n, o in enumerate(outcomes) if n != 4), outcomes
    assert [e.originator_version for e in recorder.select_events(stale)] == [1]
    for originator in others:
        assert len(recorder.select_events(originator)) == 2
    assert walk(recorder, "test").problem is None


def test_an_append_alone_goes_straight_through(recorder: Any) -> None:
    ids = recorder.insert_events(events(uuid.uuid4(), count=3))
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    assert recorder.group_commit.batches == 0
    assert recorder.group_commit._queue == []
