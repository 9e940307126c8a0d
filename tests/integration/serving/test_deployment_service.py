"""DeploymentService on the in-memory, SQLite and Postgres event stores (one contract)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.serving.ports import ServableModel
from application.serving.service import DeploymentService, NewDeployment
from domain.serving.status import DeploymentStatus
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import (
    DomainError,
    IdempotencyKeyReusedError,
    InvalidStateTransitionError,
    NotFoundError,
    ValidationFailedError,
    VersionMismatchError,
)
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore

CAUSE = Cause(actor_id="user_test")
S = DeploymentStatus
UPSTREAM = "http://127.0.0.1:9000/v1"


class FakeModels:
    """Models by name (or their `model_<name>` id); anything else is not found."""

    MODELS = {"base-small": True, "embedder": False}

    def servable(self, org_id: UUID, model: str) -> ServableModel:
        name = model.removeprefix("model_")
        if name not in self.MODELS:
            raise NotFoundError("No such model.")
        return ServableModel(f"model_{name}", name, self.MODELS[name])


def upstream(**overrides: Any) -> NewDeployment:
    return NewDeployment(**{"model": "base-small", "backend": "upstream",
                            "upstream_url": UPSTREAM, **overrides})


@dataclass
class World:
    app: DeploymentService
    org: UUID

    def created(self, **overrides: Any) -> UUID:
        outcome = self.app.create_deployment(self.org, upstream(**overrides),
                                             request_fingerprint="f", cause=CAUSE)
        return UUID(str(outcome.aggregate.id))


class DeploymentServiceContract:
    @pytest.fixture
    def world(self, env: dict[str, str]) -> Iterator[World]:
        app = DeploymentService(env=env, models=FakeModels())
        yield World(app, uuid4())
        app.close()

    def test_a_deployment_lives_through_its_commands(self, world: World) -> None:
        app, org = world.app, world.org
        created = app.create_deployment(org, upstream(min_replicas=2, name="chat",
                                                      metadata={"team": "a"}),
                                        request_fingerprint="f", cause=CAUSE)
        deployment = created.aggregate
        assert created.position is not None
        assert (deployment.model, deployment.status, deployment.min_replicas,
                deployment.max_replicas, deployment.name) == (
            "model_base-small", S.CREATING, 2, 2, "chat")
        target = deployment.id
        app.replica_starting(target, "r0", 1.0, SYSTEM)
        app.replica_ready(target, "r0", "http://10.0.0.1:8000", 2.0, SYSTEM)
        ready = app.replica_ready(target, replica_id="r1", url="http://10.0.0.2:8000", at=3.0,
                                  cause=SYSTEM)
        assert ready.aggregate.status is S.READY
        again = app.replica_ready(target, "r1", "http://10.0.0.2:8000", 3.0, SYSTEM)
        assert again.position is None  # a duplicate saves nothing
        assert app.replica_failed(target, "r0", "exit 137", 4.0, SYSTEM).aggregate.status \
            is S.UPDATING
        stopping = app.update_deployment(org, target, expected_version=None,
                                         desired_state="stopped", cause=CAUSE)
        assert stopping.aggregate.status is S.STOPPING
        with pytest.raises(InvalidStateTransitionError):
            app.update_deployment(org, target, expected_version=None, desired_state="running",
                                  cause=CAUSE)
        app.replica_stopped(target, "r0", 5.0, SYSTEM)
        done = app.replica_stopped(target, "r1", 13.0, SYSTEM).aggregate
        assert (done.status, done.replicas_wanted) == (S.STOPPED, 0)
        stored = list(app.events.get(target))
        assert [e.replica_seconds for e in stored if type(e).__name__ == "ReplicaStopped"] == [
            4.0, 10.0]
        assert app.deployment(org, target).version == done.version
        with pytest.raises(NotFoundError):
            app.deployment(uuid4(), target)
        with pytest.raises(NotFoundError):
            app.update_deployment(uuid4(), target, expected_version=None,
                                  desired_state="running", cause=CAUSE)
        with pytest.raises(NotFoundError):
            app.replica_starting(uuid4(), "r0", 1.0, SYSTEM)

    def test_fail_and_retry(self, world: World) -> None:
        app, target = world.app, world.created()
        error = {"code": "upstream_unhealthy", "message": "No answer from /health."}
        assert app.fail(target, error, 9.0, SYSTEM).aggregate.status is S.FAILED
        assert app.fail(target, error, 10.0, SYSTEM).position is None
        retried = app.update_deployment(world.org, target, expected_version=None,
                                        desired_state="running", cause=CAUSE).aggregate
        assert (retried.status, retried.error) == (S.CREATING, None)

    def test_if_match_makes_the_update_conditional(self, world: World) -> None:
        app, org, target = world.app, world.org, world.created()
        with pytest.raises(VersionMismatchError):
            app.update_deployment(org, target, expected_version=7, max_replicas=3,
                                  cause=CAUSE)
        changed = app.update_deployment(org, target, expected_version=1, max_replicas=3,
                                        cause=CAUSE)
        assert (changed.aggregate.version, changed.aggregate.max_replicas) == (2, 3)
        same = app.update_deployment(org, target, expected_version=2, max_replicas=3,
                                     cause=CAUSE)
        assert (same.position, same.aggregate.version) == (None, 2)

    @pytest.mark.parametrize(("overrides", "param"), [
        ({"model": "gpt-9"}, "model"),
        ({"model": "embedder"}, "model"),
        ({"backend": "vllm"}, "backend"),
        ({"upstream_url": None}, "upstream_url"),
        ({"upstream_url": "localhost:9000"}, "upstream_url"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas"),
        ({"max_replicas": 9}, "max_replicas"),
        ({"name": " "}, "name"),
    ])
    def test_create_checks_everything_and_names_the_param(
            self, world: World, overrides: dict[str, Any], param: str) -> None:
        head = world.app.recorder.max_notification_id()
        with pytest.raises(ValidationFailedError) as raised:
            world.app.create_deployment(world.org, upstream(**overrides),
                                        request_fingerprint="f", cause=CAUSE)
        assert raised.value.param == param
        assert world.app.recorder.max_notification_id() == head  # nothing was created

    def test_idempotent_create(self, world: World) -> None:
        app, org = world.app, world.org
        keyed = Cause(actor_id="user_test", idempotency_key="k")
        first = app.create_deployment(org, upstream(), request_fingerprint="f", cause=keyed)
        again = app.create_deployment(org, upstream(), request_fingerprint="f", cause=keyed)
        # A replay writes nothing; its answer waits for the log's head, like the first one.
        assert (again.aggregate.id, again.replayed, again.position) == (
            first.aggregate.id, True, app.recorder.max_notification_id())
        with pytest.raises(IdempotencyKeyReusedError):
            app.create_deployment(org, upstream(min_replicas=2), request_fingerprint="other",
                                  cause=keyed)
        elsewhere = app.create_deployment(uuid4(), upstream(), request_fingerprint="f",
                                          cause=keyed)
        assert elsewhere.aggregate.id != first.aggregate.id

    def test_concurrent_reports_and_a_stop_lose_nothing(self, world: World) -> None:
        target = world.created(min_replicas=3, max_replicas=3)
        barrier, failures = threading.Barrier(4), list[Exception]()

        def run(command: Any) -> None:
            barrier.wait()
            try:
                command()
            except DomainError:
                pass  # a 409 for a loser is fine; anything else is a bug
            except Exception as error:
                failures.append(error)

        commands = [
            *(lambda i=i: world.app.replica_ready(target, f"r{i}", f"http://h{i}:80", 1.0,
                                                  SYSTEM) for i in range(3)),
            lambda: world.app.update_deployment(world.org, target, expected_version=None,
                                                desired_state="stopped", cause=CAUSE),
        ]
        threads = [threading.Thread(target=run, args=(c,)) for c in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        deployment = world.app.deployment(world.org, target)
        assert set(deployment.replicas) == {"r0", "r1", "r2"}  # no report was lost
        assert (deployment.status, deployment.live_replicas) == (S.STOPPING,
                                                                 ("r0", "r1", "r2"))


class TestInMemory(InMemoryStore, DeploymentServiceContract):
    """The contract on the in-memory store."""


class TestSQLite(SQLiteStore, DeploymentServiceContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, DeploymentServiceContract):
    """The contract on the Postgres store."""
