"""The production shape: auth service, worker and control plane as separate processes.

They share Postgres (fresh schemas per test) and Redis (session revocations), and talk over
HTTP (AUTH_SERVICE_URL, AUTH_INTERNAL_TOKEN). The walkthrough of test_walkthrough runs
through the control plane unchanged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import (
    ServerProcess,
    create_project,
    error_of,
    free_port,
    in_process,
    running,
    sign_up,
)
from tests.e2e.test_walkthrough import http_client, walk_through

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

INTERNAL_TOKEN = "x"


@dataclass
class SplitDeployment:
    control_plane_url: str
    auth_url: str
    auth: ServerProcess
    worker: ServerProcess
    control_plane: ServerProcess


@pytest.fixture
def split_deployment(postgres_url: str, pg_schemas: dict[str, str], redis_url: str,
                     tmp_path: Path) -> Iterator[SplitDeployment]:
    auth_port, api_port = free_port(), free_port()
    auth_url = f"http://127.0.0.1:{auth_port}"
    env = {
        "BITSTRIDE_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": postgres_url, "AUTH_DATABASE_URL": postgres_url,
        "DATABASE_SCHEMA": pg_schemas["database_schema"],
        "READ_MODEL_SCHEMA": pg_schemas["read_model_schema"],
        "AUTH_DATABASE_SCHEMA": pg_schemas["auth_database_schema"],
        "AUTH_INTERNAL_TOKEN": INTERNAL_TOKEN, "AUTH_SERVICE_URL": auth_url,
        "REDIS_URL": redis_url,
    }
    with ExitStack() as stack:  # stopped in reverse: control plane, worker, auth service
        auth = stack.enter_context(running(
            ["auth", "serve", "--host", "127.0.0.1", "--port", str(auth_port)],
            {k: v for k, v in env.items() if k != "AUTH_SERVICE_URL"}, tmp_path / "auth.log"))
        auth.wait_healthy(auth_url)
        worker = stack.enter_context(running(["worker"], env, tmp_path / "worker.log"))
        worker.wait_for_output("worker running")
        api = stack.enter_context(running(
            ["serve", "--mode", "full", "--host", "127.0.0.1", "--port", str(api_port)],
            env, tmp_path / "serve.log"))
        api_url = f"http://127.0.0.1:{api_port}"
        api.wait_healthy(api_url)
        yield SplitDeployment(api_url, auth_url, auth, worker, api)


async def test_register_login_create_list_logout_across_processes(
        split_deployment: SplitDeployment) -> None:
    async with http_client(split_deployment.control_plane_url) as client:
        ada = await sign_up(client, "ada")
        org = await client.get("/v1/orgs/current", headers=ada.headers)
        assert org.status_code == 200, org.text  # opened by the worker, seen by the API
        assert org.json()["id"] == ada.org_id

        # Each list is read after the write before it: the page kept in the API process
        # moves on with the worker's commit, announced by NOTIFY before the POST answers.
        listed = []
        for name in ("Across", "Again"):
            assert [p["id"] for p in (await client.get(
                "/v1/projects", headers=ada.headers)).json()["data"]] == listed
            listed.insert(0, (await create_project(client, ada, name))["id"])
        assert [p["id"] for p in (await client.get(
            "/v1/projects", headers=ada.headers)).json()["data"]] == listed

        assert (await client.post("/v1/auth/logout", headers=ada.headers)).status_code == 200
        error_of(await client.get("/v1/projects", headers=ada.headers), 401)


async def test_the_walkthrough_across_processes(split_deployment: SplitDeployment) -> None:
    async with http_client(split_deployment.control_plane_url) as client:
        await walk_through(client)


async def test_readiness_proxying_and_the_internal_route(
        split_deployment: SplitDeployment) -> None:
    async with http_client(split_deployment.control_plane_url) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["redis"] == "ok"
        jwks = await client.get("/v1/auth/.well-known/jwks.json")
        direct = httpx.get(f"{split_deployment.auth_url}/v1/auth/.well-known/jwks.json")
        assert jwks.status_code == 200 and jwks.json() == direct.json()

    closing = httpx.post(f"{split_deployment.auth_url}/internal/organizations/"
                         "org_0123456789abcdef0123456789abcdef/close",
                         headers={"X-Internal-Token": "not-" + INTERNAL_TOKEN})
    error_of(closing, 401)


# -- two deployments sharing one Postgres database ------------------------------------------


@pytest.fixture
def neighbour_settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Another deployment in the same database: its own schemas, as DATABASE_SCHEMA allows."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    schemas = {"database_schema": f"{prefix}_es", "read_model_schema": f"{prefix}_rm",
               "auth_database_schema": f"{prefix}_auth"}
    yield Settings(data_dir=tmp_path / "neighbour", database_url=postgres_url,
                   auth_database_url=postgres_url, **schemas)  # type: ignore[arg-type]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for schema in schemas.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))


def wait_until_running(plane: ControlPlane) -> None:
    deadline = time.monotonic() + 10
    while any(runner.status.state != "running" for runner in plane.runners):
        assert time.monotonic() < deadline, [r.status for r in plane.runners]
        time.sleep(0.05)


async def test_deployments_in_other_schemas_do_not_block_each_other(
        postgres_settings: Settings, neighbour_settings: Settings) -> None:
    neighbour = ControlPlane(neighbour_settings)
    try:
        neighbour.start_workers()
        wait_until_running(neighbour)
        fast = postgres_settings.with_overrides(read_your_writes_timeout_seconds=2.0)
        async with in_process(fast) as (_plane, client):
            ada = await sign_up(client, "ada")
            org = await client.get("/v1/orgs/current", headers=ada.headers)
            assert org.status_code == 200, org.text
    finally:
        neighbour.close()
