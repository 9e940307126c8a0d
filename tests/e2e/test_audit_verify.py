"""The real `bitstride audit verify` over a store written through HTTP (sign-up, projects, the
worker's projections): it passes, then names the event edited behind Bitstride's back."""

from __future__ import annotations

import sqlite3

import pytest

from infra.settings import Settings
from tests.e2e.conftest import create_project, in_process, run_cli, sign_up

pytestmark = pytest.mark.anyio


async def test_audit_verify_passes_then_names_an_edited_event(sqlite_settings: Settings
                                                              ) -> None:
    async with in_process(sqlite_settings) as (_plane, client):
        ada = await sign_up(client, "ada")
        await create_project(client, ada, "alpha", description="first")
    env = {"BITSTRIDE_DATA_DIR": str(sqlite_settings.data_dir)}

    clean = run_cli("audit", "verify", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "events chained and intact" in clean.stdout and "0 not yet projected" in clean.stdout

    with sqlite3.connect(sqlite_settings.events_sqlite_path) as conn:
        rowid, state = conn.execute("SELECT rowid, state FROM stored_events WHERE topic = "
                                    "'bitstride.tenancy.Project.Created'").fetchone()
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                     (state.replace(b"first", b"fir5t"), rowid))
    tampered = run_cli("audit", "verify", env=env)
    assert tampered.returncode == 1
    assert f"event #{rowid} (" in tampered.stderr
    assert "v1, bitstride.tenancy.Project.Created) was edited" in tampered.stderr
