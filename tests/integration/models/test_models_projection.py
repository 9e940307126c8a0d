"""The models read model in a running control plane: catalog at start, paging, rebuild.

Runs on embedded SQLite and on fresh Postgres schemas, with the worker's live runners.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import MetaData, select

from application.models.service import NewModel
from domain.catalog.model import base_model_id
from domain.shared.cause import Cause
from infra.catalog.loader import load_catalog
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.worker import rebuild
from projections.models.projection import PROJECTION_NAME
from projections.models.tables import models_table

CAUSE = Cause(actor_id="user_test")
WAIT_SECONDS = 10.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings.with_overrides(read_your_writes_timeout_seconds=WAIT_SECONDS)


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(settings)
    plane.start_workers()
    yield plane
    plane.close()


def settle(plane: ControlPlane) -> int:
    head = plane.models.recorder.max_notification_id() or 0
    plane.tracker(PROJECTION_NAME).wait(plane.models.name, head, timeout=WAIT_SECONDS)
    return head


def register(plane: ControlPlane, org: UUID, name: str) -> UUID:
    base = base_model_id(load_catalog()[0].name)
    outcome = plane.models.register_model(
        org, NewModel(name=name, base_model_id=base, weights_uri="s3://b/" + name),
        request_fingerprint="f", cause=CAUSE)
    plane.await_projections(plane.models.name, outcome.position)
    return outcome.aggregate.id


def generation_rows(plane: ControlPlane, generation: int) -> list[dict[str, Any]]:
    table = models_table(generation, MetaData())
    with plane.read_engine.connect() as conn:
        return sorted((dict(row) for row in conn.execute(select(table)).mappings()),
                      key=lambda row: row["id"])


def test_the_catalog_is_projected_at_start(plane: ControlPlane) -> None:
    settle(plane)
    rows, has_more = plane.model_queries.models(uuid4().hex, after=None, limit=100)
    assert {row["name"] for row in rows} == {spec.name for spec in load_catalog()}
    assert not has_more and all(row["kind"] == "base" for row in rows)


def test_lists_the_orgs_models_and_the_base_models_newest_first(plane: ControlPlane) -> None:
    org, other = uuid4(), uuid4()
    mine = [register(plane, org, f"m{i}") for i in range(3)]
    register(plane, other, "theirs")
    pages, after = [], None
    while True:
        rows, has_more = plane.model_queries.models(org.hex, after=after, limit=2)
        pages.append(rows)
        if not has_more:
            break
        after = rows[-1]["id"]
    listed = [row for page in pages for row in page]
    assert [row["id"] for row in listed[:3]] == [m.hex for m in reversed(mine)]
    assert len(listed) == 3 + len(load_catalog())
    assert "theirs" not in {row["name"] for row in listed}
    assert plane.model_queries.model(org.hex, mine[0].hex) is not None
    assert plane.model_queries.model(other.hex, mine[0].hex) is None
    assert plane.model_queries.model_by_name(org.hex, "M1")["id"] == mine[1].hex  # type: ignore[index]


def test_a_rebuild_equals_the_live_projection(plane: ControlPlane) -> None:
    org = uuid4()
    first, second = register(plane, org, "a"), register(plane, org, "b")
    plane.models.update_model(org, first, name="a2", description="d", metadata={"k": "v"},
                              expected_version=None, cause=CAUSE)
    plane.models.delete_model(org, second, expected_version=None, cause=CAUSE)
    settle(plane)
    live = generation_rows(plane, 1)
    assert rebuild(plane, PROJECTION_NAME) == 2
    assert generation_rows(plane, 2) == live
    assert plane.generations.active(PROJECTION_NAME, fresh=True) == 2


def test_a_restart_with_a_changed_catalog_records_only_the_change(
        settings: Settings, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    entry = {"name": "only-one", "context_length": 1024, "tokenizer": "t",
             "capabilities": {"training": ["supervised"], "serving": True}}
    catalog.write_text(json.dumps({"models": [entry]}))
    settings = settings.with_overrides(model_catalog_file=catalog)
    heads = []
    for context_length in (1024, 1024, 2048):
        entry["context_length"] = context_length
        catalog.write_text(json.dumps({"models": [entry]}))
        plane = ControlPlane(settings)
        heads.append(plane.models.recorder.max_notification_id())
        plane.close()
    assert heads[0] == heads[1] and heads[2] == heads[1] + 1  # type: ignore[operator]
