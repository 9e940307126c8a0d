"""`bitstride worker --only/--except`: a worker runs the projections and process managers it
is given, and two workers split between them run everything (on Postgres, one runner each)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from domain.shared.cause import Cause
from infra.settings import Settings
from interfaces.cli.main import cli
from interfaces.control_plane import ControlPlane
from interfaces.worker import ORGANIZATION_CLOSURE, PROCESS_MANAGERS, worker_selection

WAIT_SECONDS = 10.0


@pytest.fixture
def plane(sqlite_settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(sqlite_settings)
    yield plane
    plane.close()


def running(plane: ControlPlane) -> set[str]:
    return {runner.name.split("@")[0] for runner in plane.runners}


def test_only_runs_the_named_ones(plane: ControlPlane) -> None:
    plane.start_workers(worker_selection(plane, "tenancy, organization-closure", None))
    assert running(plane) == {"tenancy", ORGANIZATION_CLOSURE}


def test_except_runs_all_the_others(plane: ControlPlane) -> None:
    everything = {*plane.read_models.supervisors, *PROCESS_MANAGERS}
    plane.start_workers(worker_selection(plane, None, "tenancy,usage"))
    assert "tenancy" not in running(plane) and "usage" not in running(plane)
    # The training scheduler and the deployment controller are off in these settings.
    assert running(plane) == everything - {"tenancy", "usage", "training-scheduler",
                                           "deployment-controller"}


def test_an_unknown_name_is_refused_with_the_known_ones(plane: ControlPlane) -> None:
    with pytest.raises(ValueError, match="unknown projection or process manager tenancy2; "
                                         "choose from tenancy, "):
        worker_selection(plane, "tenancy2", None)
    result = CliRunner().invoke(cli, ["worker", "--except", "nope"],
                                env={"BITSTRIDE_DATA_DIR": str(plane.settings.data_dir)})
    assert result.exit_code == 1 and "unknown projection or process manager nope" in \
        result.output


@pytest.mark.postgres
def test_two_workers_split_between_them_project_everything(
        postgres_settings: Settings) -> None:
    """The tenancy projection in one plane, the rest in the other, on one store: a project
    created in the other shows in the read model."""
    settings = postgres_settings.with_overrides(read_your_writes_timeout_seconds=WAIT_SECONDS)
    tenancy_worker, other = ControlPlane(settings), ControlPlane(settings)
    try:
        for plane in (tenancy_worker, other):
            plane.start_listening()
        tenancy_worker.start_workers(worker_selection(tenancy_worker, "tenancy", None))
        other.start_workers(worker_selection(other, None, "tenancy"))
        assert running(tenancy_worker) == {"tenancy"}
        assert "tenancy" not in running(other)
        cause = Cause(actor_id="user_test")
        org = other.tenancy.open_personal_organization(uuid.uuid4(), "Split", cause).aggregate
        outcome = other.tenancy.create_project(org.id, name="alpha", description="",
                                               metadata={}, request_fingerprint="f",
                                               cause=cause)
        other.await_projections(other.tenancy.name, outcome.position)  # read-your-writes
        assert other.queries.project_ids(org.id.hex) == [outcome.aggregate.id.hex]
    finally:
        for plane in (tenancy_worker, other):
            plane.close()
