"""The audit read model on SQLite (one log for every context) and Postgres (one per context):
rows filed under the right organization, usage left out, and a rebuild giving the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from application.datasets.service import NewDataset
from application.usage.service import NewUsage
from domain.shared.cause import SYSTEM, Cause
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from projections.audit.queries import AuditFilter
from projections.audit.tables import audit_tables


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    plane = ControlPlane(settings)
    yield plane
    plane.close()


def audit_names(plane: ControlPlane) -> list[str]:
    return [name for name in plane.read_models.models if name.startswith("audit")]


def catch_up(plane: ControlPlane) -> None:
    for name in audit_names(plane):
        plane.read_models.runner(name, plane.generations.active(name, fresh=True)).catch_up()


def table_rows(plane: ControlPlane, name: str) -> list[dict[str, Any]]:
    tables = audit_tables(name, plane.generations.active(name, fresh=True))
    with plane.read_engine.connect() as conn:
        return [dict(row) for table in (tables.events, tables.subjects)
                for row in conn.execute(select(table).order_by(*table.primary_key)).mappings()]


def activity(plane: ControlPlane, org: UUID, actor: str) -> UUID:
    cause = Cause(actor_id=actor, request_id=f"req_{actor}", idempotency_key=None)
    plane.tenancy.open_personal_organization(uuid4(), "Org", cause)
    project = plane.tenancy.create_project(org, name="p", description="", metadata={},
                                           request_fingerprint="f", cause=cause).aggregate
    plane.tenancy.update_project(org, project.id, name="q", description=None, metadata=None,
                                 expected_version=None, cause=cause)
    plane.datasets.create_dataset(org, NewDataset(project_id=None, name="d", description="",
                                                  purpose="fine_tuning", data_format="chat",
                                                  metadata={}),
                                  request_fingerprint="f", cause=cause)
    plane.usage.record([NewUsage(source_kind="request", source_id=actor, meter="inference."
                                 "input_tokens", quantity=5, org_id=org, project_id=None,
                                 occurred_at=1.0, model="m", api_key_id=None)], cause=SYSTEM)
    return project.id


def test_rows_are_filed_under_their_organization_and_rebuild_alike(plane: ControlPlane) -> None:
    one_log = plane.settings.database_url is None  # SQLite: every context, one table
    assert len(audit_names(plane)) == (1 if one_log else len(plane.applications) - 1)  # not Usage
    ada, bob = uuid4(), uuid4()
    project = activity(plane, ada, "user_ada")
    activity(plane, bob, "user_bob")
    catch_up(plane)

    rows, more = plane.audit_queries.events(AuditFilter(org_id=ada.hex), after=None, limit=50)
    assert not more
    assert [row["type"] for row in rows] == ["dataset.created", "project.updated",
                                             "project.created"]
    updated = rows[1]
    assert updated["resource_id"] == f"proj_{project.hex}" and updated["resource_version"] == 2
    assert (updated["actor_id"], updated["request_id"]) == ("user_ada", "req_user_ada")
    assert updated["payload"] == {"name": "q", "description": "", "metadata": {}}
    assert {row["org_id"] for row in rows} == {ada.hex}

    before = {name: table_rows(plane, name) for name in audit_names(plane)}
    for name in audit_names(plane):
        assert plane.read_models.rebuild(name) == 2
    assert {name: table_rows(plane, name) for name in audit_names(plane)} == before
