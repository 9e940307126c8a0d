"""Processes started at once on an empty database: each creates its tables, none crashes.

`CREATE TABLE IF NOT EXISTS` races in Postgres (a unique violation on `pg_type`, or "tuple
concurrently updated"), which once crashed one of a worker and an API started together; the
set-up now takes turns under an advisory lock (`infra.eventstore.setup_lock`). Each process
here builds a whole control plane (event stores, chains, read models, tracking tables) and the
auth service's store on one fresh set of schemas, all released at the same moment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BITSTRIDE, process_env

pytestmark = [pytest.mark.postgres]
PROCESSES = 4


def test_processes_starting_together_on_an_empty_database_all_start(
        postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> None:
    env = process_env({
        "BITSTRIDE_DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": postgres_url,
        "AUTH_DATABASE_URL": postgres_url, "DATABASE_SCHEMA": pg_schemas["database_schema"],
        "READ_MODEL_SCHEMA": pg_schemas["read_model_schema"],
        "AUTH_DATABASE_SCHEMA": pg_schemas["auth_database_schema"]})
    starts = [subprocess.Popen([str(BITSTRIDE), "projections", "status"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(PROCESSES)]
    outputs = [(start.wait(timeout=120), start.communicate()[0]) for start in starts]
    for code, output in outputs:
        assert code == 0, output[-3000:]
        assert "tenancy" in output
