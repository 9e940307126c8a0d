"""ModelService on the in-memory, SQLite and Postgres event stores (one contract)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.models.ports import BaseModelSpec
from application.models.service import ModelService, NewModel
from domain.catalog.errors import ModelInUseError
from domain.catalog.model import Model, base_model_id
from domain.catalog.status import ModelStatus
from domain.shared.cause import Cause
from domain.shared.errors import (
    IdempotencyKeyReusedError,
    NameTakenError,
    NotFoundError,
    PermissionDeniedError,
    VersionMismatchError,
)
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore

CAUSE = Cause(actor_id="user_test")
CATALOG = [BaseModelSpec(name="tiny", context_length=4096, tokenizer="t/tiny",
                         training=("supervised", "dpo"), serving=True),
           BaseModelSpec(name="small", context_length=8192, tokenizer="t/small",
                         training=("supervised",), serving=True)]
TINY = base_model_id("tiny")


def new(name: str = "my-ft", **fields: Any) -> NewModel:
    return NewModel(name=name, base_model_id=TINY, weights_uri="s3://b/w", **fields)


class FakeUsage:
    """Stands in for jobs and deployments: users per model id."""

    def __init__(self) -> None:
        self.users: dict[UUID, list[str]] = {}

    def users_of(self, model_id: UUID) -> list[str]:
        return self.users.get(model_id, [])


class ModelServiceContract:
    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[ModelService]:
        app = ModelService(env=env)
        app.sync_base_catalog(CATALOG)
        yield app
        app.close()

    def events(self, app: ModelService) -> int:
        return app.recorder.max_notification_id() or 0

    def test_catalog_load_is_idempotent_and_records_changes(self, app: ModelService) -> None:
        head = self.events(app)
        assert app.sync_base_catalog(CATALOG) is None
        assert self.events(app) == head
        changed = [replace(CATALOG[0], context_length=16384), CATALOG[1]]
        assert app.sync_base_catalog(changed) == head + 1
        assert app.model(uuid4(), TINY).context_length == 16384
        assert app.sync_base_catalog(changed) is None

    def test_register_update_and_delete(self, app: ModelService) -> None:
        org = uuid4()
        created = app.register_model(org, new(context_length=2048), request_fingerprint="f",
                                     cause=CAUSE)
        model = created.aggregate
        assert created.position is not None
        assert (model.tokenizer, model.context_length) == ("t/tiny", 2048)
        assert model.lineage is not None and model.lineage.base_model_id == TINY
        updated = app.update_model(org, model.id, name="renamed", description="d",
                                   metadata=None, expected_version=1, cause=CAUSE)
        assert updated.aggregate.name == "renamed"
        with pytest.raises(VersionMismatchError):
            app.delete_model(org, model.id, expected_version=1, cause=CAUSE)
        deleted = app.delete_model(org, model.id, expected_version=2, cause=CAUSE)
        assert deleted.aggregate.status is ModelStatus.DELETED
        with pytest.raises(NotFoundError):
            app.model(org, model.id)

    def test_names_are_unique_per_org_and_freed_by_rename_and_delete(
            self, app: ModelService) -> None:
        org, other = uuid4(), uuid4()
        first = app.register_model(org, new("a"), request_fingerprint="f", cause=CAUSE)
        with pytest.raises(NameTakenError):
            app.register_model(org, new("A"), request_fingerprint="f", cause=CAUSE)
        app.register_model(other, new("a"), request_fingerprint="f", cause=CAUSE)
        with pytest.raises(NameTakenError):
            app.register_model(org, new("tiny"), request_fingerprint="f", cause=CAUSE)
        second = app.register_model(org, new("b"), request_fingerprint="f", cause=CAUSE)
        with pytest.raises(NameTakenError):
            app.update_model(org, second.aggregate.id, name="a", description=None,
                             metadata=None, expected_version=None, cause=CAUSE)
        app.update_model(org, first.aggregate.id, name="c", description=None, metadata=None,
                         expected_version=None, cause=CAUSE)
        app.update_model(org, second.aggregate.id, name="a", description=None, metadata=None,
                         expected_version=None, cause=CAUSE)
        app.delete_model(org, second.aggregate.id, expected_version=None, cause=CAUSE)
        app.register_model(org, new("a"), request_fingerprint="f", cause=CAUSE)

    def test_another_organization_gets_not_found(self, app: ModelService) -> None:
        model = app.register_model(uuid4(), new(), request_fingerprint="f", cause=CAUSE)
        stranger = uuid4()
        with pytest.raises(NotFoundError):
            app.model(stranger, model.aggregate.id)
        with pytest.raises(NotFoundError):
            app.delete_model(stranger, model.aggregate.id, expected_version=None, cause=CAUSE)

    def test_base_models_are_visible_but_not_changeable(self, app: ModelService) -> None:
        org = uuid4()
        assert app.model(org, TINY).name == "tiny"
        with pytest.raises(PermissionDeniedError):
            app.delete_model(org, TINY, expected_version=None, cause=CAUSE)
        with pytest.raises(PermissionDeniedError):
            app.update_model(org, TINY, name="x", description=None, metadata=None,
                             expected_version=None, cause=CAUSE)

    def test_a_model_in_use_is_not_deleted(self, app: ModelService) -> None:
        org, usage = uuid4(), FakeUsage()
        app.usage = usage
        model = app.register_model(org, new(), request_fingerprint="f", cause=CAUSE).aggregate
        usage.users[model.id] = ["dep_1", "ftjob_2"]
        with pytest.raises(ModelInUseError) as error:
            app.delete_model(org, model.id, expected_version=None, cause=CAUSE)
        assert "dep_1" in error.value.message and "ftjob_2" in error.value.message
        usage.users.clear()
        app.delete_model(org, model.id, expected_version=None, cause=CAUSE)

    def test_an_unknown_base_is_not_found(self, app: ModelService) -> None:
        with pytest.raises(NotFoundError) as error:
            app.register_model(uuid4(), replace(new(), base_model_id=uuid4()),
                               request_fingerprint="f", cause=CAUSE)
        assert error.value.param == "base_model"

    def test_idempotent_register(self, app: ModelService) -> None:
        org, keyed = uuid4(), Cause(actor_id="user_test", idempotency_key="k")
        first = app.register_model(org, new(), request_fingerprint="f", cause=keyed)
        again = app.register_model(org, new(), request_fingerprint="f", cause=keyed)
        assert (again.aggregate.id, again.replayed) == (first.aggregate.id, True)
        with pytest.raises(IdempotencyKeyReusedError):
            app.register_model(org, new(), request_fingerprint="other", cause=keyed)

    def test_concurrent_registrations_of_one_name_one_wins(self, app: ModelService) -> None:
        org, count = uuid4(), 6
        barrier, results = threading.Barrier(count), []

        def register() -> None:
            barrier.wait()
            try:
                results.append(app.register_model(org, new("same"), request_fingerprint="f",
                                                  cause=CAUSE).aggregate)
            except NameTakenError as error:
                results.append(error)

        threads = [threading.Thread(target=register) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [r for r in results if isinstance(r, Model)]
        assert len(winners) == 1 and len(results) == count


class TestInMemory(InMemoryStore, ModelServiceContract):
    """The contract on the in-memory store."""


class TestSQLite(SQLiteStore, ModelServiceContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, ModelServiceContract):
    """The contract on the Postgres store."""
