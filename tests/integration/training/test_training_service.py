"""TrainingService on the in-memory, SQLite and Postgres event stores (one contract)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.training.ports import PinnedDataset, TrainableModel
from application.training.service import NewFineTuningJob, NewRlJob, TrainingService
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import (
    DomainError,
    IdempotencyKeyReusedError,
    InvalidStateTransitionError,
    NotFoundError,
    ValidationFailedError,
)
from domain.training.job import SNAPSHOT_INTERVAL
from domain.training.status import JobStatus
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore
from tests.unit.training.factories import GRADER

CAUSE = Cause(actor_id="user_test")


@dataclass
class FakeDatasets:
    """Datasets by (org, id); anything else is not found."""

    rows: dict[tuple[UUID, UUID], PinnedDataset] = field(default_factory=dict)

    def add(self, org_id: UUID, purpose: str, data_format: str, status: str = "valid",
            examples: int = 40) -> UUID:
        dataset_id = uuid4()
        self.rows[org_id, dataset_id] = PinnedDataset(dataset_id, 3, purpose, data_format,
                                                      status, examples)
        return dataset_id

    def pinned(self, org_id: UUID, dataset_id: UUID) -> PinnedDataset:
        if (org_id, dataset_id) not in self.rows:
            raise NotFoundError("No such dataset.")
        return self.rows[org_id, dataset_id]


class FakeModels:
    MODELS = {"base-small": frozenset({"supervised", "dpo", "rl"}),
              "base-serve-only": frozenset()}

    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        if model not in self.MODELS:
            raise NotFoundError("No such model.")
        return TrainableModel(f"model_{model}", model, self.MODELS[model])


@dataclass
class World:
    app: TrainingService
    datasets: FakeDatasets
    org: UUID

    def fine_tuning(self, **overrides: Any) -> NewFineTuningJob:
        chat = self.datasets.add(self.org, "fine_tuning", "chat")
        return NewFineTuningJob(**{"model": "base-small", "training_file": chat, **overrides})

    def rl(self, **overrides: Any) -> NewRlJob:
        prompts = self.datasets.add(self.org, "rl", "prompt", examples=12)
        return NewRlJob(**{"model": "base-small", "training_file": prompts, "grader": GRADER,
                           **overrides})

    def running(self) -> UUID:
        job = self.app.create_job(self.org, self.fine_tuning(), request_fingerprint="f",
                                  cause=CAUSE).aggregate
        self.app.files_validated(job.id, cause=SYSTEM)
        self.app.start(job.id, executor_id="local-1", total_steps=10,
                       resolved_hyperparameters=job.hyperparameters, at=1.0, cause=SYSTEM)
        return job.id


class TrainingServiceContract:
    @pytest.fixture
    def world(self, env: dict[str, str]) -> Iterator[World]:
        datasets = FakeDatasets()
        app = TrainingService(env=env, datasets=datasets, models=FakeModels(),
                              seeds=lambda: 1234)
        yield World(app, datasets, uuid4())
        app.close()

    def test_a_fine_tuning_job_lives_through_its_commands(self, world: World) -> None:
        app, org = world.app, world.org
        created = app.create_job(org, world.fine_tuning(), request_fingerprint="f",
                                 cause=CAUSE)
        job = created.aggregate
        assert created.position is not None
        assert (job.kind, job.model, job.seed, job.status) == (
            "fine_tuning", "model_base-small", 1234, JobStatus.VALIDATING_FILES)
        assert job.spec.training_file.version == 3
        assert job.hyperparameters == {"n_epochs": 3, "batch_size": 1,
                                       "learning_rate_multiplier": 1.0}
        app.files_validated(job.id, cause=SYSTEM)
        app.start(job.id, executor_id="local-1", total_steps=4,
                  resolved_hyperparameters=job.hyperparameters, at=1.0, cause=SYSTEM)
        assert app.report(job.id, seq=1, step=1, metrics={"loss": 2.0}, at=2.0,
                          cause=SYSTEM).position is not None
        assert app.report(job.id, seq=1, step=1, metrics={"loss": 2.0}, at=2.0,
                          cause=SYSTEM).position is None  # a duplicate saves nothing
        app.checkpoint(job.id, seq=2, step=2, metrics={"loss": 1.0}, file_key="ckpt/2",
                       at=3.0, cause=SYSTEM)
        done = app.succeed(job.id, seq=3, fine_tuned_model="ft:base-small:x", trained_tokens=99,
                           result_files=["results.csv"], at=4.0, cause=SYSTEM).aggregate
        assert (done.status, done.step, done.trained_tokens) == (JobStatus.SUCCEEDED, 2, 99)
        assert app.job(org, job.id).version == done.version
        with pytest.raises(NotFoundError):
            app.job(uuid4(), job.id)
        with pytest.raises(NotFoundError):
            app.cancel(uuid4(), job.id, at=5.0, cause=CAUSE)
        with pytest.raises(InvalidStateTransitionError):
            app.cancel(org, job.id, at=5.0, cause=CAUSE)

    def test_an_rl_job_is_created_with_its_grader(self, world: World) -> None:
        job = world.app.create_job(world.org, world.rl(seed=7, kl_beta=0.2),
                                   request_fingerprint="f", cause=CAUSE).aggregate
        assert (job.kind, job.seed, job.spec.kl_beta) == ("rl", 7, 0.2)  # type: ignore[union-attr]
        assert job.spec.grader == GRADER  # type: ignore[union-attr]
        assert job.hyperparameters["n_epochs"] == 9

    @pytest.mark.parametrize(("change", "param"), [
        ("unknown_training_file", "training_file"),
        ("other_orgs_file", "training_file"),
        ("invalid_file", "training_file"),
        ("preference_for_supervised", "training_file"),
        ("prompt_validation_file", "validation_file"),
        ("unknown_model", "model"),
        ("untrainable_model", "model"),
        ("bad_epochs", "method.supervised.hyperparameters.n_epochs"),
        ("bad_method", "method.type"),
        ("bad_seed", "seed"),
    ])
    def test_create_checks_everything_and_names_the_param(
            self, world: World, change: str, param: str) -> None:
        datasets, org = world.datasets, world.org
        new = {
            "unknown_training_file": lambda: world.fine_tuning(training_file=uuid4()),
            "other_orgs_file": lambda: world.fine_tuning(
                training_file=datasets.add(uuid4(), "fine_tuning", "chat")),
            "invalid_file": lambda: world.fine_tuning(
                training_file=datasets.add(org, "fine_tuning", "chat", status="invalid")),
            "preference_for_supervised": lambda: world.fine_tuning(
                training_file=datasets.add(org, "fine_tuning", "preference")),
            "prompt_validation_file": lambda: world.fine_tuning(
                validation_file=datasets.add(org, "rl", "prompt")),
            "unknown_model": lambda: world.fine_tuning(model="gpt-9"),
            "untrainable_model": lambda: world.fine_tuning(model="base-serve-only"),
            "bad_epochs": lambda: world.fine_tuning(hyperparameters={"n_epochs": 0}),
            "bad_method": lambda: world.fine_tuning(method="reinforcement"),
            "bad_seed": lambda: world.fine_tuning(seed=-5),
        }[change]()
        head = world.app.recorder.max_notification_id()
        with pytest.raises(ValidationFailedError) as raised:
            world.app.create_job(org, new, request_fingerprint="f", cause=CAUSE)
        assert raised.value.param == param
        assert world.app.recorder.max_notification_id() == head  # nothing was created

    def test_an_rl_grader_error_names_the_nested_param(self, world: World) -> None:
        grader = {"type": "multi", "graders": {"a": GRADER, "b": {**GRADER, "operation": "x"}},
                  "calculate_output": "a + b"}
        with pytest.raises(ValidationFailedError) as raised:
            world.app.create_job(world.org, world.rl(grader=grader), request_fingerprint="f",
                                 cause=CAUSE)
        assert raised.value.param == "grader.graders.b.operation"

    def test_idempotent_create(self, world: World) -> None:
        app, org = world.app, world.org
        keyed = Cause(actor_id="user_test", idempotency_key="k")
        new = world.fine_tuning()
        first = app.create_job(org, new, request_fingerprint="f", cause=keyed)
        again = app.create_job(org, new, request_fingerprint="f", cause=keyed)
        # A replay writes nothing; its answer waits for the log's head, like the first one.
        assert (again.aggregate.id, again.replayed, again.position) == (
            first.aggregate.id, True, app.recorder.max_notification_id())
        with pytest.raises(IdempotencyKeyReusedError):
            app.create_job(org, new, request_fingerprint="other", cause=keyed)
        # The same key in another organization is another job.
        other = uuid4()
        elsewhere = app.create_job(other, NewFineTuningJob(
            model="base-small", training_file=world.datasets.add(other, "fine_tuning", "chat")),
            request_fingerprint="f", cause=keyed)
        assert elsewhere.aggregate.id != first.aggregate.id

    def test_concurrent_keyed_creates_make_one_job(self, world: World) -> None:
        keyed = Cause(actor_id="user_test", idempotency_key="same")
        new = world.fine_tuning()
        barrier, results, failures = threading.Barrier(6), [], []

        def create() -> None:
            barrier.wait()
            try:
                results.append(world.app.create_job(world.org, new, request_fingerprint="f",
                                                    cause=keyed))
            except Exception as error:
                failures.append(error)

        threads = [threading.Thread(target=create) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert len({outcome.aggregate.id for outcome in results}) == 1
        assert sum(not outcome.replayed for outcome in results) == 1

    @pytest.mark.parametrize("rounds", [6])
    def test_concurrent_cancel_and_succeed_end_in_exactly_one_terminal_state(
            self, world: World, rounds: int) -> None:
        for _ in range(rounds):
            job_id = world.running()
            barrier, failures = threading.Barrier(3), list[Exception]()

            def run(command: Any, barrier: threading.Barrier = barrier,
                    failures: list[Exception] = failures) -> None:
                barrier.wait()
                try:
                    command()
                except DomainError:
                    pass  # a 409 for the loser is fine; anything else is a bug
                except Exception as error:
                    failures.append(error)

            commands = [
                lambda job_id=job_id: world.app.cancel(world.org, job_id, at=5.0, cause=CAUSE),
                lambda job_id=job_id: world.app.succeed(
                    job_id, seq=1, fine_tuned_model="ft:x", trained_tokens=1, result_files=[],
                    at=5.0, cause=SYSTEM),
                lambda job_id=job_id: world.app.acknowledge_cancel(job_id, seq=2, at=6.0,
                                                                   cause=SYSTEM),
            ]
            threads = [threading.Thread(target=run, args=(c,)) for c in commands]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert failures == []
            # Success applies unless the acknowledgement already cancelled the job, and the
            # acknowledgement applies only after the cancel: either way the job ended.
            job = world.app.job(world.org, job_id)
            assert job.status in {JobStatus.SUCCEEDED, JobStatus.CANCELLED}
            stored = [type(e).__name__ for e in world.app.events.get(job_id)]
            terminal = [name for name in stored if name in {"Succeeded", "Cancelled", "Failed"}]
            assert len(terminal) == 1
            if job.status is JobStatus.SUCCEEDED:
                assert job.fine_tuned_model == "ft:x"

    def test_a_long_job_loads_from_its_latest_snapshot(self, world: World) -> None:
        app, job_id = world.app, world.running()
        for seq in range(1, 2 * SNAPSHOT_INTERVAL + 5):
            app.report(job_id, seq=seq, step=min(seq, 10), metrics={"loss": 1 / seq}, at=2.0,
                       cause=SYSTEM)
        loaded = app.repository.get(job_id)
        assert app.snapshots is not None
        [latest] = app.snapshots.get(job_id, desc=True, limit=1)
        assert latest.originator_version == loaded.version // SNAPSHOT_INTERVAL * \
            SNAPSHOT_INTERVAL
        replayed = None
        for stored in app.events.get(job_id):
            replayed = stored.mutate(replayed)
        assert vars(loaded) == vars(replayed)
        assert app.repository.get(job_id, version=latest.originator_version + 1).metrics == \
            {"loss": 1 / (latest.originator_version - 2)}


class TestInMemory(InMemoryStore, TrainingServiceContract):
    """The contract on the in-memory store."""


class TestSQLite(SQLiteStore, TrainingServiceContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, TrainingServiceContract):
    """The contract on the Postgres store."""
