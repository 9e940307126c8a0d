"""Waiting for the worker: re-check after every append to a log, within a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from domain.serving.deployment import Deployment
from domain.shared.ids import parse_id
from domain.training.job import TrainingJob
from domain.training.status import TERMINAL
from interfaces.control_plane import ControlPlane

T = TypeVar("T")
DEADLINE_SECONDS = 60.0


def wait_for(plane: ControlPlane, load: Callable[[], T], done: Callable[[T], bool], *,
             seconds: float = DEADLINE_SECONDS) -> T:
    """`load()` once `done(load())` holds; the assertion shows the last value on timeout."""
    deadline = time.monotonic() + seconds
    while True:
        seen = plane.log_signal.generation()
        value = load()
        if done(value):
            return value
        left = deadline - time.monotonic()
        assert left > 0, f"not done after {seconds:g} s: {value!r}"
        plane.log_signal.wait_after(seen, min(left, 0.5))


def job_of(plane: ControlPlane, job_id: str) -> TrainingJob:
    job = plane.training.get_or_none(parse_id(job_id.partition("_")[0], job_id))
    assert isinstance(job, TrainingJob)
    return job


def deployment_of(plane: ControlPlane, dep_id: str) -> Deployment:
    deployment = plane.serving.get_or_none(parse_id("dep", dep_id))
    assert isinstance(deployment, Deployment)
    return deployment


def terminal(plane: ControlPlane, job_id: str) -> TrainingJob:
    """The job once succeeded, failed or cancelled."""
    return wait_for(plane, lambda: job_of(plane, job_id), lambda job: job.status in TERMINAL)


def at_step(plane: ControlPlane, job_id: str, step: int) -> TrainingJob:
    """The job once its recorded step reaches `step`; fails if it ends first."""

    def reached(job: TrainingJob) -> bool:
        assert job.status not in TERMINAL, f"the job ended first: {job.status.value}"
        return job.step >= step

    return wait_for(plane, lambda: job_of(plane, job_id), reached)


def deployment_when(plane: ControlPlane, dep_id: str,
                    done: Callable[[Deployment], bool]) -> Deployment:
    return wait_for(plane, lambda: deployment_of(plane, dep_id), done)
