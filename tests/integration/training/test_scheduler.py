"""The training scheduler against an in-memory TrainingService, pumped by hand.

`pump` feeds every new Training notification to the scheduler the way the worker's Runner
does; the executor is a fake the test plays (the inline executor runs in the e2e test).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from application.training.launch import total_steps
from application.training.ports import (
    ExecutorJob,
    ExecutorRefusedError,
    OutputModel,
    PinnedDataset,
    TrainableModel,
)
from application.training.scheduler import Limits, TrainingScheduler
from application.training.service import NewFineTuningJob, TrainingService
from application.usage.service import UsageService
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import NotFoundError
from domain.training.job import TrainingJob
from domain.training.status import JobStatus
from tests.support.stores import POPO

CAUSE = Cause(actor_id="user_test")


@dataclass
class FakeDatasets:
    rows: dict[tuple[UUID, UUID], PinnedDataset] = field(default_factory=dict)

    def add(self, org_id: UUID, examples: int = 40) -> UUID:
        dataset_id = uuid4()
        self.rows[org_id, dataset_id] = PinnedDataset(dataset_id, 1, "fine_tuning", "chat",
                                                      "valid", examples)
        return dataset_id

    def pinned(self, org_id: UUID, dataset_id: UUID) -> PinnedDataset:
        if (org_id, dataset_id) not in self.rows:
            raise NotFoundError("No such dataset.")
        return self.rows[org_id, dataset_id]


BASE_ID = "model_" + "b" * 32


@dataclass
class FakeModels:
    """The models context as the scheduler sees it: lookups, and registrations recorded."""

    registered: list[OutputModel] = field(default_factory=list)

    def trainable(self, org_id: UUID, model: str) -> TrainableModel:
        return TrainableModel(f"model_{model}", model, frozenset({"supervised"}),
                              base_model_id=BASE_ID, base_name="base-small")

    def register(self, output: OutputModel, *, cause: Cause) -> None:
        self.registered.append(output)


@dataclass
class FakeExecutor:
    started: list[ExecutorJob] = field(default_factory=list)
    stopped: list[UUID] = field(default_factory=list)
    silence: dict[UUID, float] = field(default_factory=dict)  # runs it follows
    attachable: set[UUID] = field(default_factory=set)
    refuse: bool = False

    def start(self, job: ExecutorJob) -> str:
        if self.refuse:
            raise ExecutorRefusedError("unsupported_model", "Cannot train that here.")
        if all(run.job_id != job.job_id for run in self.started):
            self.started.append(job)
            self.silence[job.job_id] = 0.0
        return f"fake-{job.job_id.hex}"

    def attach(self, job: ExecutorJob) -> bool:
        if job.job_id in self.attachable:
            self.silence[job.job_id] = 0.0
        return job.job_id in self.silence

    def heartbeat(self, job_id: UUID) -> float | None:
        return self.silence.get(job_id)

    def stop(self, job_id: UUID) -> None:
        self.stopped.append(job_id)

    def ids(self) -> list[UUID]:
        return [run.job_id for run in self.started]




class Harness:
    def __init__(self, capacity: int = 2, per_organization: int = 2) -> None:
        self.datasets = FakeDatasets()
        self.models = FakeModels()
        self.training = TrainingService(env=POPO, datasets=self.datasets, models=self.models,
                                        outputs=self.models)
        self.usage = UsageService(env=POPO)
        self.executor = FakeExecutor()
        self.now = time.time()
        self.limits = Limits(capacity=capacity, per_organization=per_organization,
                             heartbeat_seconds=60.0)
        self.scheduler = self.new_scheduler()
        self.org = uuid4()
        self.position = 0

    def new_scheduler(self) -> TrainingScheduler:
        """A scheduler as a freshly started worker has it (nothing in memory)."""
        return TrainingScheduler(self.training, self.executor, POPOTrackingRecorder(),
                                 limits=self.limits, usage=self.usage,
                                 clock=lambda: self.now)

    def create(self, examples: int = 40, org: UUID | None = None) -> UUID:
        org = org or self.org
        dataset = self.datasets.add(org, examples)
        job = self.training.create_job(org, NewFineTuningJob(
            model="base-small", training_file=dataset,
            hyperparameters={"n_epochs": 2, "batch_size": 4}),
            request_fingerprint="f", cause=CAUSE).aggregate
        return job.id

    def notifications(self, start: int = 1) -> list[Any]:
        return list(self.training.recorder.select_notifications(start, 10_000))

    def feed(self, notification: Any) -> None:
        event = self.training.mapper.to_domain_event(notification)
        self.scheduler.process_event(event, Tracking(self.training.name, notification.id))

    def pump(self) -> None:
        """Like the Runner: every notification after the tracked position, in order."""
        while True:
            batch = self.notifications(self.position + 1)
            if not batch:
                return
            for notification in batch:
                self.feed(notification)
                self.position = notification.id

    def job(self, job_id: UUID) -> TrainingJob:
        job = self.training.get_or_none(job_id)
        assert isinstance(job, TrainingJob)
        return job

    def usage_records(self) -> list[Any]:
        return [self.usage.mapper.to_domain_event(n)
                for n in self.usage.recorder.select_notifications(1, 1000)]

    def finish(self, job_id: UUID) -> None:
        """Play the executor: two progress reports, then success."""
        steps = self.job(job_id).total_steps or 1
        self.training.report(job_id, seq=1, step=steps // 2, metrics={"x": 1.0}, at=1.0,
                             cause=SYSTEM)
        self.training.report(job_id, seq=2, step=steps, metrics={"x": 2.0}, at=2.0,
                             cause=SYSTEM)
        self.training.succeed(job_id, seq=3, fine_tuned_model="ft-x", trained_tokens=99,
                              result_files=[], weights_uri="object://models/w", at=3.0,
                              cause=SYSTEM)


def test_a_created_job_is_validated_queued_started_and_succeeds() -> None:
    h = Harness()
    job_id = h.create(examples=40)
    h.pump()
    job = h.job(job_id)
    assert job.status is JobStatus.RUNNING
    assert job.executor_id == f"fake-{job_id.hex}"
    assert job.total_steps == total_steps(40, {"n_epochs": 2, "batch_size": 4}) == 20
    assert h.executor.started[0].total_steps == 20
    h.finish(job_id)
    h.pump()
    assert h.job(job_id).status is JobStatus.SUCCEEDED
    topics = [n.topic.rsplit(".", 1)[-1] for n in h.notifications()]
    assert topics == ["Created", "FilesValidated", "Started", "ProgressReported",
                      "ProgressReported", "Succeeded"]


def test_files_that_are_no_longer_valid_reject_the_job() -> None:
    h = Harness()
    job_id = h.create()
    pinned = h.job(job_id).spec.training_file
    row = h.datasets.rows[h.org, pinned.dataset_id]
    h.datasets.rows[h.org, pinned.dataset_id] = PinnedDataset(
        row.id, row.version + 1, row.purpose, row.format, "uploaded", 0)
    h.pump()
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "invalid_file" and job.error["param"] == "training_file"
    assert h.executor.started == []


def test_a_deleted_dataset_rejects_the_job() -> None:
    h = Harness()
    job_id = h.create()
    del h.datasets.rows[h.org, h.job(job_id).spec.training_file.dataset_id]
    h.pump()
    assert h.job(job_id).status is JobStatus.FAILED


def test_capacity_one_admits_the_next_job_only_after_the_first_ends() -> None:
    h = Harness(capacity=1)
    first, second, third = h.create(), h.create(), h.create()
    h.pump()
    assert h.executor.ids() == [first]
    assert h.job(second).status is JobStatus.QUEUED
    assert h.job(third).status is JobStatus.QUEUED
    h.finish(first)
    h.pump()
    assert h.executor.ids() == [first, second]  # creation order
    assert h.job(second).status is JobStatus.RUNNING
    assert h.job(third).status is JobStatus.QUEUED
    h.training.fail(second, seq=1, error={"code": "boom", "message": "broke"}, at=1.0,
                    cause=SYSTEM)
    h.pump()
    assert h.executor.ids() == [first, second, third]


def test_a_cancelled_queued_job_never_starts() -> None:
    h = Harness(capacity=1)
    first, second = h.create(), h.create()
    h.pump()
    h.training.cancel(h.org, second, at=1.0, cause=CAUSE)
    h.finish(first)
    h.pump()
    assert h.job(second).status is JobStatus.CANCELLED
    assert h.executor.ids() == [first]


def test_cancelling_a_running_job_stops_its_executor() -> None:
    h = Harness()
    job_id = h.create()
    h.pump()
    h.training.cancel(h.org, job_id, at=1.0, cause=CAUSE)
    h.pump()
    assert h.executor.stopped == [job_id]
    assert h.job(job_id).status is JobStatus.CANCELLING


def test_replaying_events_after_a_crash_changes_nothing() -> None:
    h = Harness(capacity=1)
    first, second = h.create(), h.create()
    h.pump()
    before = h.notifications()
    # A crash before tracking: the restarted scheduler (fresh state) sees everything again.
    h.scheduler = h.new_scheduler()
    for notification in before:
        h.feed(notification)
    assert [n.id for n in h.notifications()] == [n.id for n in before]
    assert h.executor.ids() == [first]
    assert h.job(second).status is JobStatus.QUEUED


def test_a_restarted_scheduler_finds_queued_jobs_created_before_its_position() -> None:
    h = Harness(capacity=1)
    first, second = h.create(), h.create()
    h.pump()
    h.finish(first)
    # Restart: new scheduler, resuming after the position already tracked.
    h.scheduler = h.new_scheduler()
    h.pump()
    assert h.executor.ids() == [first, second]


@pytest.mark.parametrize(("examples", "epochs", "batch", "steps"),
                         [(40, 2, 4, 20), (3, 1, 8, 1), (0, 3, 1, 1), (10, 3, 4, 8)])
def test_total_steps(examples: int, epochs: int, batch: int, steps: int) -> None:
    assert total_steps(examples, {"n_epochs": epochs, "batch_size": batch}) == steps


def test_the_per_organization_limit_lets_another_organization_run() -> None:
    h = Harness(capacity=3, per_organization=1)
    other = uuid4()
    first, second = h.create(), h.create()
    theirs = h.create(org=other)
    h.pump()
    assert h.executor.ids() == [first, theirs]
    h.finish(first)
    h.pump()
    assert h.executor.ids() == [first, theirs, second]


def test_success_registers_the_output_model_first_and_bills_the_tokens_once() -> None:
    h = Harness()
    job_id = h.create()
    h.pump()
    h.finish(job_id)
    [output] = h.models.registered  # before anyone could read `succeeded`
    h.pump()
    job = h.job(job_id)
    assert output.name == "ft-x" and output.base_model_id == BASE_ID
    assert output.weights_uri == "object://models/w"
    assert output.job_id == f"ftjob_{job_id.hex}"
    assert output.dataset_versions == ((job.spec.training_file.dataset_id, 1),)
    # A restarted scheduler sees the Succeeded event again: the usage is not billed twice.
    h.scheduler, h.position = h.new_scheduler(), 0
    h.pump()
    [record] = h.usage_records()
    assert (record.meter, record.quantity) == ("fine_tuning.trained_tokens", 99)
    assert record.source_id == f"ftjob_{job_id.hex}" and record.org_id == h.org


def test_a_job_the_executor_refuses_fails_with_its_reason() -> None:
    h = Harness()
    h.executor.refuse = True
    job_id = h.create()
    h.pump()
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error["code"] == "unsupported_model"


def test_a_silent_run_fails_with_executor_lost_after_the_heartbeat_timeout() -> None:
    h = Harness()
    job_id = h.create()
    h.pump()
    h.executor.silence[job_id] = 59.0
    h.scheduler.tick()
    assert h.job(job_id).status is JobStatus.RUNNING
    h.executor.silence[job_id] = 61.0
    h.scheduler.tick()
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error["code"] == "executor_lost"
    assert h.executor.stopped == [job_id]


def test_after_a_restart_a_run_the_executor_still_has_is_reattached() -> None:
    h = Harness()
    job_id = h.create()
    h.pump()
    h.executor.silence.clear()            # the worker restarted: nothing followed in memory
    h.executor.attachable.add(job_id)     # ... but the run is still going
    h.scheduler = h.new_scheduler()
    h.now += 3600
    h.scheduler.tick()
    assert h.job(job_id).status is JobStatus.RUNNING


def test_after_a_restart_a_vanished_run_fails_once_its_grace_is_over() -> None:
    h = Harness()
    job_id = h.create()
    h.pump()
    h.executor.silence.clear()
    h.scheduler = h.new_scheduler()
    h.scheduler.tick()  # the job's last event is seconds old: still within the grace
    assert h.job(job_id).status is JobStatus.RUNNING
    h.now += 61
    h.scheduler.tick()
    job = h.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error["code"] == "executor_lost"


def test_the_first_tick_admits_jobs_queued_before_a_restart() -> None:
    h = Harness(capacity=1)
    first = h.create()
    h.pump()
    second = h.create()
    h.training.files_validated(second, cause=SYSTEM)
    h.finish(first)
    # The worker died after tracking these events but before admitting `second`.
    h.position = len(h.notifications())
    h.scheduler = h.new_scheduler()
    h.pump()
    assert h.job(second).status is JobStatus.QUEUED
    h.scheduler.tick()
    assert h.job(second).status is JobStatus.RUNNING
