"""The usage projection on SQLite and Postgres: records once, bucket sums by hand, rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, select

from application.usage.service import NewUsage, UsageService
from domain.shared.cause import SYSTEM
from infra.database import read_model_engine
from infra.eventstore import eventstore_env
from projections.usage.projection import UsageProjection, UsageView, bucket_start
from tests.support.projections import catch_up

DAY = 1_795_000_000 - 1_795_000_000 % 86400  # a midnight, UTC


@dataclass
class Backend:
    app: UsageService
    engine: Engine

    def catch_up(self, generation: int = 1) -> UsageView:
        view = UsageView(self.engine, generation)
        return catch_up(self.app, view, UsageProjection)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        env = eventstore_env(None, tmp_path / "events.sqlite3", "unused")
        engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    else:
        url = request.getfixturevalue("postgres_url")
        schemas = request.getfixturevalue("pg_schemas")
        env = eventstore_env(url, tmp_path / "x.sqlite3", schemas["database_schema"])
        engine = read_model_engine(url, tmp_path / "x.sqlite3", schemas["read_model_schema"])
    app = UsageService(env=env)
    yield Backend(app, engine)
    app.close()
    engine.dispose()


def usage(org: UUID, source: str, quantity: int, at: float, *,
          meter: str = "inference.input_tokens", model: str = "model_a",
          key: str | None = "key_1") -> NewUsage:
    return NewUsage(source_kind="request", source_id=source, meter=meter, quantity=quantity,
                    org_id=org, project_id=None, occurred_at=at, model=model, api_key_id=key)


def rows(view: UsageView, table: str) -> list[dict[str, Any]]:
    tab = getattr(view.tables, table)
    with view.engine.connect() as conn:
        found = conn.execute(select(tab)).mappings()
        return sorted((dict(row) for row in found), key=repr)


def test_records_are_summed_into_minute_hour_and_day_buckets(backend: Backend) -> None:
    org = uuid4()
    backend.app.record([usage(org, "r1", 10, DAY + 5), usage(org, "r2", 7, DAY + 50),
                        usage(org, "r3", 3, DAY + 65), usage(org, "r4", 100, DAY + 3600,
                                                             model="model_b")], cause=SYSTEM)
    backend.app.record([usage(org, "r1", 10, DAY + 5)], cause=SYSTEM)  # a repeat: nothing
    view = backend.catch_up()
    sums = {(row["width"], row["start"], row["model"]): (row["quantity"], row["records"])
            for row in rows(view, "buckets")}
    assert sums == {
        ("1m", DAY, "model_a"): (17, 2), ("1m", DAY + 60, "model_a"): (3, 1),
        ("1m", DAY + 3600, "model_b"): (100, 1),
        ("1h", DAY, "model_a"): (20, 3), ("1h", DAY + 3600, "model_b"): (100, 1),
        ("1d", DAY, "model_a"): (20, 3), ("1d", DAY, "model_b"): (100, 1)}
    assert sorted(row["source_id"] for row in rows(view, "records")) == ["r1", "r2", "r3", "r4"]


def test_a_rebuild_from_the_log_gives_the_same_rows(backend: Backend) -> None:
    orgs = [uuid4(), uuid4()]
    for batch in range(5):
        backend.app.record([usage(orgs[i % 2], f"r{batch}-{i}", i + batch, DAY + 37 * i * batch,
                                  meter=("inference.input_tokens", "rl.grader_calls")[i % 2])
                            for i in range(20)], cause=SYSTEM)
    live = backend.catch_up(1)
    rebuilt = backend.catch_up(2)
    for table in ("records", "buckets"):
        assert rows(live, table) == rows(rebuilt, table)
    assert sum(row["quantity"] for row in rows(live, "buckets") if row["width"] == "1d") \
        == sum(i + batch for batch in range(5) for i in range(20))


@pytest.mark.parametrize(("at", "width", "start"), [
    (DAY + 59.999, 60, DAY), (DAY + 60, 60, DAY + 60), (DAY - 0.5, 86400, DAY - 86400)])
def test_bucket_start(at: float, width: int, start: int) -> None:
    assert bucket_start(at, width) == start
