"""The three event stores every application contract test runs against (DESIGN §7).

A contract class asks for an `env` fixture; a test class mixes in one of these to give it:
`class TestSQLite(SQLiteStore, TrainingServiceContract)`."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.eventstore import eventstore_env

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class InMemoryStore:
    @pytest.fixture
    def env(self) -> dict[str, str]:
        return dict(POPO)


class SQLiteStore:
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return eventstore_env(None, tmp_path / "es.sqlite3", "unused")


@pytest.mark.postgres
class PostgresStore:
    @pytest.fixture
    def env(self, postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path
            ) -> dict[str, str]:
        return eventstore_env(postgres_url, tmp_path / "unused.sqlite3",
                              pg_schemas["database_schema"])
