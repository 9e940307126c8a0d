"""`kill -9` of the worker while it projects 10,000 events, then a new worker (issue 9, §2).

The log is written first, through the applications in this process with nothing projecting:
300 projects (created, updated, their name claimed: 900 Tenancy events, projected into the
tenancy and audit read models) and 9,100 usage records (summed into buckets by minute, hour
and day: the counters where an event applied twice shows).
A real `bitstride worker` then projects it and is killed with SIGKILL in the middle of the
usage batches; a second worker catches up. Every read-model table of the live generation must
then equal, row for row, a rebuild from the log beside it (generation 2, filled by the runner
`bitstride projections rebuild` uses, while the workers run; readers are not switched):
nothing lost, nothing applied twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from application.usage.service import NewUsage
from domain.shared.cause import SYSTEM
from domain.tenancy.name_claim import ProjectNameClaim
from domain.tenancy.project import Project
from domain.usage.record import Meter, SourceKind
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from projections.usage.projection import PROJECTION_NAME as USAGE
from projections.usage.tables import WIDTHS
from tests.e2e.conftest import ServerProcess, running
from tests.e2e.test_worker_restart import kill_hard
from tests.faults.crashing import first_differences, generation_rows, shared_store_env
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
T = TypeVar("T")

PROJECTS = 300  # 3 events each
USAGE_RECORDS = 9_100
SAVE_BATCH = 500  # events per save: one transaction each, so the log is written in seconds
DEADLINE_SECONDS = 120.0  # 10,000 events on a busy 2-core machine, with a rebuild beside
KILL_AT = 500  # usage events projected before the kill: one batch of 9,100
METERS = (Meter.INFERENCE_INPUT_TOKENS.value, Meter.INFERENCE_OUTPUT_TOKENS.value)
# The billing closer must not append invoices while we compare: no period is due.
NOTHING_DUE = {"BILLING_CLOSE_GRACE_SECONDS": str(10 * 86_400)}


@dataclass(frozen=True)
class Written:
    """What the log holds once written: the tokens recorded, and each log's head."""

    usage_quantity: int
    tenancy_head: int
    usage_head: int


def write_history(plane: ControlPlane) -> Written:
    """Projects and usage records saved in batches, straight through the applications."""
    org = plane.tenancy.open_personal_organization(uuid.uuid4(), "Crash test", SYSTEM).aggregate
    projects: list[Project] = []
    for number in range(PROJECTS):
        project = Project.create(org_id=org.id, name=f"project-{number}", description="",
                                 metadata={}, request_fingerprint="crash", cause=SYSTEM)
        project.update(name=None, description=f"the {number}th", metadata=None, cause=SYSTEM)
        projects.append(project)
    for start in range(0, PROJECTS, SAVE_BATCH // 3):
        batch = projects[start:start + SAVE_BATCH // 3]
        plane.tenancy.save(*batch, *(ProjectNameClaim(org_id=org.id, name=project.name,
                                                      holder=project.id) for project in batch))
    now = time.time()
    usage = [NewUsage(source_kind=SourceKind.REQUEST.value, source_id=f"req_{number // 2}",
                      meter=METERS[number % 2], quantity=number % 97 + 1, org_id=org.id,
                      project_id=projects[number % 8].id, occurred_at=now - number,
                      model=f"model-{number % 3}") for number in range(USAGE_RECORDS)]
    for start in range(0, USAGE_RECORDS, SAVE_BATCH):
        plane.usage.record(usage[start:start + SAVE_BATCH], cause=SYSTEM)
    return Written(usage_quantity=sum(item.quantity for item in usage),
                   tenancy_head=plane.tenancy.recorder.max_notification_id() or 0,
                   usage_head=plane.usage.recorder.max_notification_id() or 0)


def usage_position(plane: ControlPlane) -> int:
    return plane.tracker(USAGE).max_tracking_id(plane.usage.name) or 0


def while_running(worker: ServerProcess, load: Callable[[], T]) -> Callable[[], T]:
    """`load`, failing at once (with the worker's output) once the worker has died."""

    def checked() -> T:
        assert worker.process.poll() is None, worker.output()
        return load()

    return checked


@pytest.fixture
def plane(postgres_settings: Settings) -> Iterator[ControlPlane]:
    """The plane's applications and read models, with no runner of its own."""
    plane = ControlPlane(postgres_settings)
    try:
        yield plane
    finally:
        plane.close()


def test_a_worker_killed_mid_projection_leaves_read_models_equal_to_a_rebuild(
        plane: ControlPlane, postgres_url: str, tmp_path: Path) -> None:
    written = write_history(plane)
    assert written.tenancy_head + written.usage_head >= 10_000
    env = shared_store_env(plane.settings, **NOTHING_DUE)

    # The log is complete: rebuild it beside the live tables while the workers run. (The
    # tables are made here first: two processes creating one table at once can collide.)
    runners = [plane.read_models.runner(name, 2) for name in plane.read_models.models]
    with ThreadPoolExecutor(len(runners)) as rebuilding:
        rebuilds = [rebuilding.submit(runner.catch_up) for runner in runners]
        with running(["worker"], env, tmp_path / "worker-1.log") as first:
            wait_for(plane, while_running(first, lambda: usage_position(plane)),
                     lambda position: position >= KILL_AT, seconds=DEADLINE_SECONDS)
            kill_hard(first)
        assert usage_position(plane) < written.usage_head, "the worker finished first"
        with running(["worker"], env, tmp_path / "worker-2.log") as second:
            wait_for(plane, while_running(second, lambda: dict(plane.read_models.lags())),
                     lambda lags: not any(lags.values()), seconds=DEADLINE_SECONDS)
    assert second.process.returncode == 0, second.output()
    assert sum(rebuild.result() for rebuild in rebuilds) >= 10_000

    schema = plane.settings.read_model_schema
    live = generation_rows(postgres_url, schema, 1)
    assert first_differences(live, generation_rows(postgres_url, schema, 2)) == {}
    # And what was written is there: every record, every token, once.
    assert len(live["usage_records"]) == USAGE_RECORDS
    assert len(live["projects"]) == PROJECTS
    for width in WIDTHS:
        buckets = [bucket for bucket in map(json.loads, live["usage_buckets"])
                   if bucket["width"] == width]
        assert sum(bucket["quantity"] for bucket in buckets) == written.usage_quantity
        assert sum(bucket["records"] for bucket in buckets) == USAGE_RECORDS
    assert plane.usage.recorder.max_notification_id() == written.usage_head  # nothing new
