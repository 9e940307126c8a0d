"""The local executor against a real subprocess and the in-memory TrainingService.

The scheduler starts a run and records the job's start only afterwards, so a quick trainer
can have written reports while the job is still queued. The trainer here is a short script
that writes all of its reports at once and exits; the tests decide when the start is
recorded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

from application.datasets.service import DatasetService, NewDataset, UploadedContent
from application.training.ports import ExecutorJob
from application.training.service import NewFineTuningJob, TrainingService
from domain.shared.cause import SYSTEM
from domain.training.job import TrainingJob
from domain.training.status import TERMINAL, JobStatus
from infra.executors.local import REFERENCE_BASE, LocalExecutor
from infra.executors.start_gate import recorded_start
from infra.storage.filesystem import FilesystemObjectStore
from tests.integration.training.test_training_service import CAUSE, FakeDatasets, FakeModels
from tests.support.stores import POPO

REPORTS = 3
QUICK_TRAINER = f"""
import json, pathlib, sys
job = json.loads(pathlib.Path(sys.argv[1]).read_text())
weights = pathlib.Path(job["output_dir"]) / "model.npz"
weights.write_bytes(b"weights")
for step in range(1, {REPORTS} + 1):
    print(json.dumps({{"type": "metrics", "step": step, "metrics": {{"train_loss": 1 / step}}}}))
print(json.dumps({{"type": "succeeded", "model_path": str(weights), "trained_tokens": 12}}))
"""
SLEEPING_TRAINER = "import time; time.sleep(60)"
DEADLINE = 20.0
FOLLOWER_POLL_SECONDS = 0.01


class World:
    def __init__(self, tmp_path: Path, trainer_source: str) -> None:
        self.store = FilesystemObjectStore(tmp_path / "objects")
        self.datasets = DatasetService(env=POPO)
        self.training = TrainingService(env=POPO, datasets=FakeDatasets(), models=FakeModels())
        self.executor = LocalExecutor(
            self.training, self.datasets, self.store, work_dir=tmp_path / "runs",
            trainer=(sys.executable, "-c", trainer_source), poll_seconds=FOLLOWER_POLL_SECONDS)
        self.org = uuid4()

    def queued_job(self) -> ExecutorJob:
        catalog = self.training.datasets
        assert isinstance(catalog, FakeDatasets)
        job = self.training.create_job(self.org, NewFineTuningJob(
            model="base-small", training_file=catalog.add(self.org, "fine_tuning", "chat")),
            request_fingerprint="f", cause=CAUSE).aggregate
        self.training.files_validated(job.id, cause=SYSTEM)
        return ExecutorJob(
            job_id=job.id, org_id=self.org, kind="fine_tuning", method="supervised",
            model=REFERENCE_BASE, base_name=REFERENCE_BASE, weights_uri=None,
            training_file=(self.uploaded_dataset(), 1), validation_file=None, spec={},
            hyperparameters={"n_epochs": 1, "batch_size": 1,
                             "learning_rate_multiplier": 1.0},
            seed=7, total_steps=REPORTS,
            output_model="ft:reference")

    def uploaded_dataset(self) -> UUID:
        dataset = self.datasets.create_dataset(self.org, NewDataset(
            project_id=None, name="d", description="", purpose="fine_tuning",
            data_format="chat", metadata={}), request_fingerprint="f", cause=CAUSE).aggregate
        stored = self.store.put_stream("datasets", iter([b'{"messages": []}\n']),
                                       max_bytes=1024)
        content = UploadedContent(sha256=stored.sha256, size=stored.size,
                                  lines=stored.lines, object_key=stored.key)
        self.datasets.record_upload(self.org, dataset.id, content, now=1.0, cause=CAUSE)
        return dataset.id

    def record_start(self, run: ExecutorJob, executor_id: str) -> None:
        self.training.start(run.job_id, executor_id=executor_id, total_steps=REPORTS,
                            resolved_hyperparameters=run.hyperparameters, at=2.0,
                            cause=SYSTEM)

    def job(self, job_id: UUID) -> TrainingJob:
        job = self.training.get_or_none(job_id)
        assert isinstance(job, TrainingJob)
        return job

    @staticmethod
    def until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE
        while not done():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)


def test_reports_written_before_the_start_is_recorded_are_all_applied(tmp_path: Path) -> None:
    world = World(tmp_path, QUICK_TRAINER)
    run = world.queued_job()
    executor_id = world.executor.start(run)
    progress = tmp_path / "runs" / run.job_id.hex / "stdout"
    world.until(lambda: b"succeeded" in progress.read_bytes())  # every report is written
    time.sleep(50 * FOLLOWER_POLL_SECONDS)  # ample time for a follower to read them early

    world.record_start(run, executor_id)

    world.until(lambda: world.job(run.job_id).status in TERMINAL)
    job = world.job(run.job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.last_seq == REPORTS + 1  # each metrics line, then success


def test_a_run_whose_job_is_cancelled_while_queued_is_stopped_unapplied(
        tmp_path: Path) -> None:
    world = World(tmp_path, SLEEPING_TRAINER)
    run = world.queued_job()
    world.executor.start(run)
    workspace = tmp_path / "runs" / run.job_id.hex
    assert world.executor.heartbeat(run.job_id) is not None

    world.training.cancel(world.org, run.job_id, at=2.0, cause=CAUSE)

    world.until(lambda: not workspace.exists())  # killed, waited for and cleaned up
    assert world.executor.heartbeat(run.job_id) is None
    assert world.job(run.job_id).status is JobStatus.CANCELLED


def test_waiting_for_a_start_that_is_not_recorded_gives_up(tmp_path: Path) -> None:
    world = World(tmp_path, SLEEPING_TRAINER)
    run = world.queued_job()

    assert recorded_start(world.training, run.job_id, timeout=0.05) is None

    world.record_start(run, "local-x")
    assert recorded_start(world.training, run.job_id, timeout=0.05) is not None
