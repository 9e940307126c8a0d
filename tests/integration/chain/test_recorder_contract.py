"""The chained recorders held to eventsourcing's own application recorder test cases.

Run against a SQLite file and a fresh Postgres schema per test (unittest style; the Postgres
backend is the tracking recorder tests'), then the chain each case left behind is walked:
whatever the library's cases append, concurrently or not, chains cleanly.
"""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)

from infra.chain.postgres import ChainedPostgresApplicationRecorder
from infra.chain.sqlite import ChainedSQLiteApplicationRecorder
from infra.chain.verify import walk
from tests.conftest import TEST_DATABASE_URL
from tests.integration.projections.test_tracking_recorder import PostgresBackend


class Chained(unittest.TestCase):
    """Recorders made on `self.datastore`; each one's chain is walked after the test."""

    recorder_class: Any
    datastore: Any

    def setUp(self) -> None:
        super().setUp()
        self.recorders: list[Any] = []

    def create_recorder(self) -> Any:
        recorder = self.recorder_class(self.datastore)
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def tearDown(self) -> None:
        for recorder in self.recorders:
            assert walk(recorder, "test").problem is None
        self.datastore.close()
        super().tearDown()


class SqliteChained(Chained):
    """A fresh SQLite file per test."""

    recorder_class = ChainedSQLiteApplicationRecorder

    def setUp(self) -> None:
        super().setUp()
        self.directory = Path(tempfile.mkdtemp(prefix="chain-"))
        self.datastore = SQLiteDatastore(str(self.directory / "events.sqlite3"))

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresChained(Chained, PostgresBackend):
    """A fresh Postgres schema per test (the tracking recorder tests' backend)."""

    recorder_class = ChainedPostgresApplicationRecorder

    def setUp(self) -> None:
        super().setUp()
        url = urlsplit(TEST_DATABASE_URL)
        self.datastore = PostgresDatastore(
            dbname=url.path.lstrip("/"), host=url.hostname or "127.0.0.1",
            port=url.port or 5432, user=url.username or "postgres",
            password=url.password or "", schema=self.schema, pool_size=4, max_overflow=10)


class TestSqliteApplicationRecorder(SqliteChained, ApplicationRecorderTestCase):
    pass


class TestSqliteNonInterleaving(SqliteChained, NonInterleavingNotificationIDsBaseCase):
    pass


@pytest.mark.postgres
class TestPostgresApplicationRecorder(PostgresChained, ApplicationRecorderTestCase):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


@pytest.mark.postgres
class TestPostgresNonInterleaving(PostgresChained, NonInterleavingNotificationIDsBaseCase):
    pass
