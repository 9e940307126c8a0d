"""The deployments projection over a Runner, on SQLite and on a fresh Postgres schema.

Deployments live through the service; the projection's rows match the aggregates (replicas
included), `routable()` names what the gateway may serve, the model-usage adapter names the
deployments that are not stopped, and a rebuild from the log into a new generation gives equal
rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, select

from application.serving.service import DeploymentService
from domain.shared.cause import SYSTEM
from infra.database import read_model_engine
from infra.eventstore import eventstore_env
from interfaces.http.deployment_presenter import row_of
from projections.generations import GenerationRegistry
from projections.serving.projection import DeploymentsProjection, DeploymentsView
from projections.serving.queries import DeploymentQueries, Route
from projections.serving.usage import ActiveDeployments, ModelUsers
from tests.integration.serving.test_deployment_service import CAUSE, FakeModels, upstream
from tests.support.projections import catch_up

ERROR = {"code": "upstream_unhealthy", "message": "No answer."}


@dataclass
class Backend:
    app: DeploymentService
    engine: Engine
    org: UUID

    def catch_up(self, generation: int = 1) -> DeploymentsView:
        view = DeploymentsView(self.engine, generation)
        return catch_up(self.app, view, DeploymentsProjection)

    def queries(self) -> DeploymentQueries:
        return DeploymentQueries(self.engine, GenerationRegistry(self.engine))

    def create(self, **overrides: Any) -> UUID:
        outcome = self.app.create_deployment(self.org, upstream(**overrides),
                                             request_fingerprint="f", cause=CAUSE)
        return UUID(str(outcome.aggregate.id))


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
    app = DeploymentService(env=env, models=FakeModels())
    yield Backend(app, engine, uuid4())
    app.close()
    engine.dispose()


def live_a_deployment(backend: Backend) -> UUID:
    """Two replicas up (reports duplicated and reordered), one lost and replaced, rescaled."""
    app, target = backend.app, backend.create(min_replicas=2, max_replicas=3, name="chat")
    app.replica_ready(target, "r0", "http://10.0.0.1:8000", 11.0, SYSTEM)
    app.replica_starting(target, "r0", 10.0, SYSTEM)  # late: ignored
    app.replica_starting(target, "r1", 12.0, SYSTEM)
    app.replica_ready(target, "r1", "http://10.0.0.2:8000", 13.0, SYSTEM)
    app.replica_ready(target, "r1", "http://10.0.0.2:8000", 13.0, SYSTEM)
    app.replica_failed(target, "r0", "exit 137", 20.0, SYSTEM)
    app.replica_stopped(target, "r0", 21.0, SYSTEM)
    app.replica_starting(target, "r2", 22.0, SYSTEM)
    app.replica_ready(target, "r2", "http://10.0.0.3:8000", 23.0, SYSTEM)
    app.update_deployment(backend.org, target, expected_version=None, max_replicas=2,
                          cause=CAUSE)
    return target


def all_rows(view: DeploymentsView) -> list[dict[str, Any]]:
    with view.engine.connect() as conn:
        return [dict(row) for row in conn.execute(
            select(view.table).order_by(view.table.c.id)).mappings()]


def test_a_deployments_life_in_its_row(backend: Backend) -> None:
    target = live_a_deployment(backend)
    backend.catch_up()
    queries, org = backend.queries(), backend.org.hex
    row = queries.deployment(org, target.hex)
    assert row is not None
    assert (row["status"], row["desired_state"], row["min_replicas"], row["max_replicas"]) == (
        "ready", "running", 2, 2)
    assert (row["name"], row["model"], row["backend"], row["upstream_url"]) == (
        "chat", "model_base-small", "upstream", "http://127.0.0.1:9000/v1")
    assert {key: r["status"] for key, r in row["replicas"].items()} == {
        "r0": "stopped", "r1": "ready", "r2": "ready"}
    assert row["replicas"]["r0"]["started_at"] == 11.0  # its ready came first
    assert row["replicas"]["r0"]["reason"] == "exit 137"
    aggregate = backend.app.deployment(backend.org, target)
    expected = row_of(aggregate)
    assert {key: row[key] for key in expected} == expected
    assert queries.deployment(uuid4().hex, target.hex) is None

    assert queries.routable() == [Route(
        deployment_id=target.hex, org_id=org, project_id=None, model="model_base-small",
        status="ready", urls=("http://10.0.0.2:8000", "http://10.0.0.3:8000"))]
    assert queries.routable(org_id=uuid4().hex) == []
    assert queries.routable(model="model_other") == []


def test_routable_stopping_failed_and_model_users(backend: Backend) -> None:
    app, org = backend.app, backend.org
    ready, stopping, failed, stopped = (backend.create() for _ in range(4))
    for target in (ready, stopping, failed, stopped):
        app.replica_ready(target, "r0", f"http://{target.hex[:8]}:80", 1.0, SYSTEM)
    app.update_deployment(org, stopping, expected_version=None, desired_state="stopped",
                          cause=CAUSE)
    app.fail(failed, ERROR, 2.0, SYSTEM)
    app.update_deployment(org, stopped, expected_version=None, desired_state="stopped",
                          cause=CAUSE)
    app.replica_stopped(stopped, "r0", 3.0, SYSTEM)
    backend.catch_up()
    queries = backend.queries()
    statuses = {target: (queries.deployment(org.hex, target.hex) or {})["status"]
                for target in (ready, stopping, failed, stopped)}
    assert statuses == {ready: "ready", stopping: "stopping", failed: "failed",
                        stopped: "stopped"}
    failed_row = queries.deployment(org.hex, failed.hex)
    assert failed_row is not None
    assert (failed_row["error"], failed_row["failed_at"]) == (ERROR, 2)
    assert [route.deployment_id for route in queries.routable()] == [ready.hex]

    # FakeModels' ids are not real model ids: give every row one, as ModelService would.
    model = UUID(hex="0" * 31 + "1")
    users = ActiveDeployments(queries)
    assert users.users_of(model) == []
    table = queries.deployments_table()
    with backend.engine.begin() as conn:
        conn.execute(table.update().values(model=f"model_{model.hex}"))
    assert users.users_of(model) == [f"dep_{t.hex}" for t in (ready, stopping, failed)]

    class Jobs:
        def users_of(self, model_id: UUID) -> list[str]:
            return ["ftjob_1"]

    assert ModelUsers(Jobs(), users).users_of(model)[:2] == ["ftjob_1", f"dep_{ready.hex}"]


def test_deployments_page_newest_first_and_a_rebuild_gives_equal_rows(
        backend: Backend) -> None:
    live_a_deployment(backend)
    ids = [backend.create().hex for _ in range(5)]
    backend.app.fail(UUID(hex=ids[0]), ERROR, 5.0, SYSTEM)
    live = backend.catch_up()
    queries, org = backend.queries(), backend.org.hex
    seen, after = [], None
    while True:
        rows, has_more = queries.deployments(org, after=after, limit=2)
        seen += [row["id"] for row in rows]
        if not has_more:
            break
        after = rows[-1]["id"]
    assert seen[:5] == ids[::-1]
    assert len(seen) == 6
    assert queries.deployments(org, after=None, limit=10, project_id=uuid4().hex) == ([], False)

    rebuilt = backend.catch_up(generation=2)
    assert all_rows(rebuilt) == all_rows(live)
    assert len(all_rows(live)) == 6
