"""DatasetService on the in-memory, SQLite and Postgres event stores (one contract)."""

from __future__ import annotations

import threading
from typing import Any
from uuid import uuid4

import pytest

from application.datasets.service import DatasetService, NewDataset, UploadedContent
from domain.datasets.status import DatasetStatus
from domain.shared.cause import Cause
from domain.shared.errors import IdempotencyKeyReusedError, NotFoundError, VersionMismatchError
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore

CAUSE = Cause(actor_id="user_test")
NEW = NewDataset(project_id=None, name="train", description="", purpose="fine_tuning",
                 data_format="chat", metadata={})


def content(sha: str) -> UploadedContent:
    return UploadedContent(sha256=sha, size=100, lines=4, object_key=f"datasets/{sha}")


class DatasetServiceContract:
    @pytest.fixture
    def app(self, env: dict[str, str]) -> Any:
        app = DatasetService(env=env)
        yield app
        app.close()

    def test_create_upload_validate_and_delete(self, app: DatasetService) -> None:
        org = uuid4()
        created = app.create_dataset(org, NEW, request_fingerprint="f", cause=CAUSE)
        dataset_id = created.aggregate.id
        assert created.position is not None
        _, version = app.record_upload(org, dataset_id, content("a" * 64), now=1.0, cause=CAUSE)
        assert version.number == 1
        app.request_validation(org, dataset_id, cause=CAUSE)
        done = app.complete_validation(dataset_id, version=1, valid=True,
                                       report={"examples": 4}, cause=CAUSE)
        assert done.aggregate.status is DatasetStatus.VALID
        with pytest.raises(VersionMismatchError):
            app.delete_dataset(org, dataset_id, expected_version=1, cause=CAUSE)
        app.delete_dataset(org, dataset_id, expected_version=done.aggregate.version, cause=CAUSE)
        with pytest.raises(NotFoundError):
            app.dataset(org, dataset_id)

    def test_another_organization_gets_not_found(self, app: DatasetService) -> None:
        dataset_id = app.create_dataset(uuid4(), NEW, request_fingerprint="f",
                                        cause=CAUSE).aggregate.id
        with pytest.raises(NotFoundError):
            app.record_upload(uuid4(), dataset_id, content("a" * 64), now=1.0, cause=CAUSE)

    def test_idempotent_create(self, app: DatasetService) -> None:
        org, keyed = uuid4(), Cause(actor_id="user_test", idempotency_key="k")
        first = app.create_dataset(org, NEW, request_fingerprint="f", cause=keyed)
        again = app.create_dataset(org, NEW, request_fingerprint="f", cause=keyed)
        assert (again.aggregate.id, again.replayed) == (first.aggregate.id, True)
        with pytest.raises(IdempotencyKeyReusedError):
            app.create_dataset(org, NEW, request_fingerprint="other", cause=keyed)

    def test_concurrent_uploads_each_become_a_version(self, app: DatasetService) -> None:
        org = uuid4()
        dataset_id = app.create_dataset(org, NEW, request_fingerprint="f",
                                        cause=CAUSE).aggregate.id
        shas = [f"{i:x}" * 64 for i in range(8)]
        barrier, failures = threading.Barrier(len(shas)), []

        def upload(sha: str) -> None:
            barrier.wait()
            try:
                app.record_upload(org, dataset_id, content(sha[:64]), now=1.0, cause=CAUSE)
            except Exception as error:
                failures.append(error)

        threads = [threading.Thread(target=upload, args=(sha,)) for sha in shas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        dataset = app.dataset(org, dataset_id)
        assert sorted(v.sha256 for v in dataset.versions) == sorted(s[:64] for s in shas)
        assert [v.number for v in dataset.versions] == list(range(1, len(shas) + 1))


class TestInMemory(InMemoryStore, DatasetServiceContract):
    """The contract on the in-memory store."""


class TestSQLite(SQLiteStore, DatasetServiceContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, DatasetServiceContract):
    """The contract on the Postgres store."""
