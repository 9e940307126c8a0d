"""The TrainingJob aggregate's rules, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError
from domain.training.status import TERMINAL, TRANSITIONS, JobStatus, allowed_actions
from tests.unit.training.factories import new_job, replayed, running_job, state

ERROR = {"code": "out_of_memory", "message": "The trainer ran out of memory.", "param": None}


def succeed(job: Any, seq: int) -> bool:
    return bool(job.succeed(seq=seq, fine_tuned_model="ft:base-small:demo", trained_tokens=900,
                            result_files=["results/metrics.csv"], at=200.0, cause=SYSTEM))


@pytest.mark.parametrize("kind", ["fine_tuning", "rl"])
def test_a_job_runs_to_success_and_replays_equal(kind: str) -> None:
    job = new_job(kind)
    assert (job.kind, job.status, job.allowed_actions) == (
        kind, JobStatus.VALIDATING_FILES, ("cancel",))
    job.files_validated(cause=SYSTEM)
    job.start(executor_id="local-1", total_steps=10,
              resolved_hyperparameters=job.spec.resolved_hyperparameters, at=100.0,
              cause=SYSTEM)
    assert job.report(seq=1, step=3, metrics={"train_loss": 1.5}, at=110.0, cause=SYSTEM)
    assert job.checkpoint(seq=2, step=5, metrics={"train_loss": 1.2}, file_key="ckpt/5",
                          at=120.0, cause=SYSTEM)
    assert succeed(job, 3)
    assert (job.status, job.step, job.fine_tuned_model, job.trained_tokens) == (
        JobStatus.SUCCEEDED, 5, "ft:base-small:demo", 900)
    assert (job.started_at, job.finished_at, job.allowed_actions) == (100.0, 200.0, ())
    assert job.result_files == ("results/metrics.csv",)
    assert state(replayed(job.collect_events())) == state(job)


def test_duplicate_and_out_of_order_reports_are_ignored() -> None:
    job = running_job()
    assert job.report(seq=2, step=4, metrics={"loss": 1.0}, at=1.0, cause=SYSTEM)
    assert not job.report(seq=2, step=4, metrics={"loss": 1.0}, at=1.0, cause=SYSTEM)
    assert not job.report(seq=1, step=2, metrics={"loss": 2.0}, at=1.0, cause=SYSTEM)
    assert not job.checkpoint(seq=1, step=2, metrics={}, file_key="k", at=1.0, cause=SYSTEM)
    assert (job.step, job.metrics, job.last_seq) == (4, {"loss": 1.0}, 2)
    events = job.collect_events()
    assert [type(e).__name__ for e in events][-1] == "ProgressReported"
    assert sum(type(e).__name__ == "ProgressReported" for e in events) == 1


def test_reports_after_a_terminal_state_are_ignored() -> None:
    job = running_job()
    assert job.fail(seq=1, error=ERROR, at=5.0, cause=SYSTEM)
    job.collect_events()
    assert not job.report(seq=9, step=9, metrics={}, at=6.0, cause=SYSTEM)
    assert not succeed(job, 10)
    assert not job.acknowledge_cancel(seq=11, at=6.0, cause=SYSTEM)
    assert not job.fail(seq=None, error=ERROR, at=6.0, cause=SYSTEM)
    assert job.collect_events() == []
    assert (job.status, job.error) == (JobStatus.FAILED, ERROR)


def test_fresh_but_impossible_reports_are_refused() -> None:
    job = new_job()
    with pytest.raises(InvalidStateTransitionError) as raised:
        job.report(seq=1, step=1, metrics={}, at=1.0, cause=SYSTEM)
    assert (raised.value.state, raised.value.allowed_actions) == ("validating_files", ("cancel",))
    running = running_job()
    running.report(seq=1, step=5, metrics={}, at=1.0, cause=SYSTEM)
    with pytest.raises(ValidationFailedError) as backwards:
        running.report(seq=2, step=4, metrics={}, at=1.0, cause=SYSTEM)
    assert backwards.value.param == "step"
    with pytest.raises(ValidationFailedError) as nan:
        running.report(seq=3, step=6, metrics={"loss": float("nan")}, at=1.0, cause=SYSTEM)
    assert nan.value.param == "metrics.loss"
    with pytest.raises(ValidationFailedError):
        running.report(seq=0, step=6, metrics={}, at=1.0, cause=SYSTEM)


@pytest.mark.parametrize("before", ["validating_files", "queued"])
def test_cancel_before_running_cancels_at_once(before: str) -> None:
    job = new_job()
    if before == "queued":
        job.files_validated(cause=SYSTEM)
    job.request_cancel(at=7.0, cause=SYSTEM)
    assert (job.status, job.finished_at, job.allowed_actions) == (JobStatus.CANCELLED, 7.0, ())
    with pytest.raises(InvalidStateTransitionError) as raised:
        job.request_cancel(at=8.0, cause=SYSTEM)
    assert (raised.value.action, raised.value.state, raised.value.allowed_actions) == (
        "cancel", "cancelled", ())


def test_cancelling_a_running_job_waits_for_the_acknowledgement() -> None:
    job = running_job()
    job.request_cancel(at=7.0, cause=SYSTEM)
    assert (job.status, job.allowed_actions, job.finished_at) == (JobStatus.CANCELLING, (), None)
    assert job.report(seq=1, step=2, metrics={}, at=8.0, cause=SYSTEM)  # still draining
    assert job.acknowledge_cancel(seq=2, at=9.0, cause=SYSTEM)
    assert (job.status, job.finished_at) == (JobStatus.CANCELLED, 9.0)


def test_race_success_before_the_acknowledgement_wins() -> None:
    job = running_job()
    job.request_cancel(at=7.0, cause=SYSTEM)
    assert succeed(job, 1)
    assert not job.acknowledge_cancel(seq=2, at=9.0, cause=SYSTEM)
    assert job.status is JobStatus.SUCCEEDED
    assert job.fine_tuned_model == "ft:base-small:demo"


def test_race_success_after_the_acknowledgement_is_ignored() -> None:
    job = running_job()
    job.request_cancel(at=7.0, cause=SYSTEM)
    assert job.acknowledge_cancel(seq=1, at=8.0, cause=SYSTEM)
    assert not succeed(job, 2)
    assert (job.status, job.fine_tuned_model, job.trained_tokens) == (
        JobStatus.CANCELLED, None, None)


def test_files_rejected_fails_the_job_with_the_error() -> None:
    job = new_job()
    job.files_rejected(error={"code": "invalid_file", "message": "Line 3 is not JSON.",
                              "param": "training_file"}, at=3.0, cause=SYSTEM)
    assert job.status is JobStatus.FAILED
    assert job.error == {"code": "invalid_file", "message": "Line 3 is not JSON.",
                         "param": "training_file"}
    with pytest.raises(InvalidStateTransitionError):
        job.files_validated(cause=SYSTEM)


def test_start_needs_concrete_hyperparameters() -> None:
    job = new_job()
    job.files_validated(cause=SYSTEM)
    with pytest.raises(ValidationFailedError) as raised:
        job.start(executor_id="x", total_steps=10,
                  resolved_hyperparameters={"n_epochs": "auto"}, at=1.0,  # type: ignore[dict-item]
                  cause=SYSTEM)
    assert raised.value.param == "hyperparameters"
    with pytest.raises(ValidationFailedError) as steps:
        job.start(executor_id="x", total_steps=0,
                  resolved_hyperparameters=job.spec.resolved_hyperparameters, at=1.0,
                  cause=SYSTEM)
    assert steps.value.param == "total_steps"
    job.start(executor_id="x", total_steps=10,
              resolved_hyperparameters={"n_epochs": 2, "batch_size": 4,
                                        "learning_rate_multiplier": 0.5}, at=1.0, cause=SYSTEM)
    assert job.hyperparameters == {"n_epochs": 2, "batch_size": 4,
                                   "learning_rate_multiplier": 0.5}


def test_the_scheduler_may_fail_a_queued_job_without_a_seq() -> None:
    job = new_job()
    job.files_validated(cause=SYSTEM)
    assert job.fail(seq=None, error={"code": "executor_lost", "message": "gone"}, at=2.0,
                    cause=SYSTEM)
    assert job.error == {"code": "executor_lost", "message": "gone", "param": None}


def test_every_event_carries_its_cause_and_the_table_is_consistent() -> None:
    job = running_job("rl")
    assert all(event.cause == SYSTEM for event in job.collect_events())
    for status in JobStatus:
        assert allowed_actions(status) == (
            ("cancel",) if status in TRANSITIONS["cancel"] else ())
        if status in TERMINAL:
            assert all(status not in targets for targets in TRANSITIONS.values())


def test_seed_and_metadata_are_checked() -> None:
    from uuid import uuid4

    from domain.training.job import TrainingJob
    from tests.unit.training.factories import ft_spec

    with pytest.raises(ValidationFailedError) as raised:
        TrainingJob.create(org_id=uuid4(), project_id=None, model="m", spec=ft_spec(),
                           seed=-1, metadata={}, request_fingerprint="f", cause=SYSTEM)
    assert raised.value.param == "seed"
    with pytest.raises(ValidationFailedError) as too_many:
        TrainingJob.create(org_id=uuid4(), project_id=None, model="m", spec=ft_spec(),
                           seed=1, metadata={str(i): "v" for i in range(17)},
                           request_fingerprint="f", cause=SYSTEM)
    assert too_many.value.param == "metadata"
