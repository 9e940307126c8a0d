"""The training projection over a Runner, on SQLite and on a fresh Postgres schema.

Jobs live through the service; the projection's rows, its event feed (newest first) and its
checkpoints match, and a rebuild from the log into a new generation gives equal rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, select

from application.training.service import TrainingService
from domain.shared.cause import SYSTEM
from infra.database import read_model_engine
from infra.eventstore import eventstore_env
from projections.generations import GenerationRegistry
from projections.training.projection import TrainingProjection, TrainingView
from projections.training.queries import TrainingQueries
from tests.integration.training.test_training_service import CAUSE, FakeDatasets, FakeModels
from tests.support.projections import catch_up


@dataclass
class Backend:
    app: TrainingService
    datasets: FakeDatasets
    engine: Engine
    org: UUID

    def catch_up(self, generation: int = 1) -> TrainingView:
        view = TrainingView(self.engine, generation)
        return catch_up(self.app, view, TrainingProjection)

    def queries(self) -> TrainingQueries:
        return TrainingQueries(self.engine, GenerationRegistry(self.engine))


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
    datasets = FakeDatasets()
    app = TrainingService(env=env, datasets=datasets, models=FakeModels(), seeds=lambda: 5)
    yield Backend(app, datasets, engine, uuid4())
    app.close()
    engine.dispose()


def create(backend: Backend, kind: str = "fine_tuning") -> Any:
    from application.training.service import NewFineTuningJob, NewRlJob
    from tests.unit.training.factories import GRADER

    if kind == "fine_tuning":
        new: Any = NewFineTuningJob(model="base-small", training_file=backend.datasets.add(
            backend.org, "fine_tuning", "chat"), suffix="demo", metadata={"team": "a"})
    else:
        new = NewRlJob(model="base-small", training_file=backend.datasets.add(
            backend.org, "rl", "prompt"), grader=GRADER)
    return backend.app.create_job(backend.org, new, request_fingerprint="f",
                                  cause=CAUSE).aggregate


def live_a_job(backend: Backend) -> UUID:
    """Created, queued, started, two reports (one duplicated), a checkpoint, success."""
    app, job = backend.app, create(backend)
    app.files_validated(job.id, cause=SYSTEM)
    app.start(job.id, executor_id="local-1", total_steps=4,
              resolved_hyperparameters=job.hyperparameters, at=1000.0, cause=SYSTEM)
    app.report(job.id, seq=1, step=1, metrics={"train_loss": 2.5}, at=1001.0, cause=SYSTEM)
    app.report(job.id, seq=1, step=1, metrics={"train_loss": 2.5}, at=1001.0, cause=SYSTEM)
    app.checkpoint(job.id, seq=2, step=2, metrics={"train_loss": 1.5}, file_key="ckpt/2",
                   at=1002.0, cause=SYSTEM)
    app.report(job.id, seq=3, step=3, metrics={"train_loss": 1.0}, at=1003.0, cause=SYSTEM)
    app.succeed(job.id, seq=4, fine_tuned_model="ft:base-small:demo", trained_tokens=1234,
                result_files=["results/metrics.csv"], at=1004.0, cause=SYSTEM)
    return UUID(str(job.id))


def all_rows(view: TrainingView) -> dict[str, list[dict[str, Any]]]:
    tables = view.tables
    with view.engine.connect() as conn:
        return {name: [dict(row) for row in conn.execute(
            select(table).order_by(*table.primary_key.columns)).mappings()]
            for name, table in (("jobs", tables.jobs), ("events", tables.events),
                                ("checkpoints", tables.checkpoints))}


def test_a_jobs_life_in_rows_events_and_checkpoints(backend: Backend) -> None:
    job_id = live_a_job(backend)
    backend.catch_up()
    queries, org = backend.queries(), backend.org.hex

    row = queries.job(org, job_id.hex)
    assert row is not None
    assert (row["kind"], row["status"], row["model"], row["seed"]) == (
        "fine_tuning", "succeeded", "model_base-small", 5)
    assert (row["step"], row["total_steps"], row["trained_tokens"]) == (3, 4, 1234)
    assert (row["fine_tuned_model"], row["result_files"]) == (
        "ft:base-small:demo", ["results/metrics.csv"])
    assert (row["started_at"], row["finished_at"], row["error"]) == (1000, 1004, None)
    assert row["spec"]["suffix"] == "demo"
    assert row["hyperparameters"] == {"n_epochs": 3, "batch_size": 1,
                                      "learning_rate_multiplier": 1.0}
    assert queries.job(uuid4().hex, job_id.hex) is None

    events, has_more = queries.events(org, job_id.hex, after=None, limit=20)
    assert not has_more
    assert [e["message"] for e in events] == [
        "The job has successfully completed", "Step 3/4: train_loss=1",
        "Checkpoint saved at step 2", "Step 1/4: train_loss=2.5", "Job started",
        "Files validated; job queued", f"Created fine-tuning job: {job_id.hex}"]
    assert [e["type"] for e in events][1] == "metrics"
    assert events[1]["data"] == {"step": 3, "train_loss": 1.0}
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs, reverse=True)
    page, more = queries.events(org, job_id.hex, after=seqs[1], limit=2)
    assert ([e["seq"] for e in page], more) == (seqs[2:4], True)
    assert queries.events(uuid4().hex, job_id.hex, after=None, limit=5) == ([], False)

    checkpoints, _ = queries.checkpoints(org, job_id.hex, after=None, limit=10)
    assert [(c["step"], c["file_key"], c["metrics"]) for c in checkpoints] == [
        (2, "ckpt/2", {"train_loss": 1.5})]


def test_failures_and_cancels_reach_the_rows(backend: Backend) -> None:
    app = backend.app
    rejected = create(backend).id
    app.files_rejected(rejected, error={"code": "invalid_file", "message": "Line 3.",
                                        "param": "training_file"}, at=50.0, cause=SYSTEM)
    cancelled = create(backend, "rl").id
    app.files_validated(cancelled, cause=SYSTEM)
    job = app.job(backend.org, cancelled)
    app.start(cancelled, executor_id="e", total_steps=2,
              resolved_hyperparameters=job.hyperparameters, at=60.0, cause=SYSTEM)
    app.cancel(backend.org, cancelled, at=61.0, cause=CAUSE)
    backend.catch_up()
    queries, org = backend.queries(), backend.org.hex
    cancelling = queries.job(org, cancelled.hex)
    assert cancelling is not None
    assert cancelling["status"] == "cancelling"
    app.acknowledge_cancel(cancelled, seq=1, at=62.0, cause=SYSTEM)
    backend.catch_up()

    failed = queries.job(org, rejected.hex)
    assert failed is not None
    assert (failed["status"], failed["error"]["param"], failed["finished_at"]) == (
        "failed", "training_file", 50)
    events, _ = queries.events(org, rejected.hex, after=None, limit=1)
    assert (events[0]["level"], events[0]["message"]) == ("error", "Line 3.")
    done = queries.job(org, cancelled.hex)
    assert done is not None
    assert (done["status"], done["kind"], done["finished_at"]) == ("cancelled", "rl", 62)

    rl_jobs, _ = queries.jobs(org, kind="rl", after=None, limit=10)
    ft_jobs, _ = queries.jobs(org, kind="fine_tuning", after=None, limit=10)
    assert ([r["id"] for r in rl_jobs], [r["id"] for r in ft_jobs]) == (
        [cancelled.hex], [rejected.hex])


def test_jobs_page_newest_first_and_a_rebuild_gives_equal_rows(backend: Backend) -> None:
    live_a_job(backend)
    ids = [create(backend).id.hex for _ in range(5)]
    live = backend.catch_up()
    queries, org = backend.queries(), backend.org.hex
    seen, after = [], None
    while True:
        rows, has_more = queries.jobs(org, kind="fine_tuning", after=after, limit=2)
        seen += [row["id"] for row in rows]
        if not has_more:
            break
        after = rows[-1]["id"]
    assert seen[:5] == ids[::-1]
    assert len(seen) == 6

    rebuilt = backend.catch_up(generation=2)
    assert all_rows(rebuilt) == all_rows(live)
    assert all(all_rows(live).values())
