"""`bitstride events history ID` on a real SQLite log: one block per event, redacted payload,
and a clear error for an id the log does not hold."""

from __future__ import annotations

from uuid import uuid4

from click.testing import CliRunner

from domain.shared.cause import Cause
from infra.settings import Settings
from interfaces.cli.events import events
from interfaces.control_plane import ControlPlane


def test_history_prints_each_event_then_fails_on_unknown_ids(sqlite_settings: Settings) -> None:
    plane = ControlPlane(sqlite_settings)
    try:
        org = uuid4()
        cause = Cause(actor_id="user_ada", request_id="req_123", idempotency_key=None)
        project = plane.tenancy.create_project(
            org, name="First", description="", metadata={"token_hash": "x"},
            request_fingerprint="f", cause=cause).aggregate
        plane.tenancy.update_project(org, project.id, name="Second", description=None,
                                     metadata=None, expected_version=None, cause=cause)
    finally:
        plane.close()
    public = f"proj_{project.id.hex}"

    shown = CliRunner().invoke(events, ["history", public], obj=sqlite_settings)
    assert shown.exit_code == 0, shown.output
    blocks = shown.output.strip().split("\n\n")
    assert [block.splitlines()[0].split()[-1] for block in blocks] == [
        "project.created", "project.updated"]
    assert blocks[1].startswith("version 2 ") and "user_ada (user)" in blocks[1]
    assert "request: req_123" in blocks[1] and '"name": "Second"' in blocks[1]
    assert '"token_hash": "[redacted]"' in blocks[0]

    for wrong in (f"ds_{project.id.hex}", "proj_123", f"proj_{uuid4().hex}", "nothing"):
        failed = CliRunner().invoke(events, ["history", wrong], obj=sqlite_settings)
        assert failed.exit_code != 0 and "No history" in failed.output, (wrong, failed.output)
