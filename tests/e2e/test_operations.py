"""What operators rely on: health, readiness, metrics, gateway mode, OpenAPI and the CLI."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.exceptions import LitestarDeprecationWarning
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.http.app import create_control_plane_app
from tests.e2e.conftest import (
    PASSWORD,
    DevServer,
    create_project,
    error_of,
    in_process,
    run_cli,
    sign_up,
)

pytestmark = pytest.mark.anyio


def samples(text: str, metric: str) -> list[Any]:
    """Parse Prometheus text (failing on malformed output) and return one metric's samples."""
    return [sample for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == metric]


# -- health and readiness --------------------------------------------------------------------


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_lists_its_checks(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["event_store"] == "ok"
    assert body["checks"]["projections"] == "ok"


async def test_ready_is_503_naming_a_failed_projection(plane: ControlPlane,
                                                       client: httpx.AsyncClient) -> None:
    failed = plane.runners[0]
    failed.status.state = "failed"  # what a handler error leaves behind
    response = await client.get("/ready")
    error = error_of(response, 503, "not_ready")
    assert error["type"] == "service_unavailable_error"
    assert "projections" in error["message"] and failed.name in error["message"]
    assert (await client.get("/health")).status_code == 200  # liveness is not readiness


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client, "ada")
    project = await create_project(client, ada, "Measured")
    assert (await client.get(f"/v1/projects/{project['id']}",
                             headers=ada.headers)).status_code == 200
    await client.get("/v1/unknown/route/abc123")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    requests = samples(response.text, "bitstride_http_requests_total")
    routes = {(s.labels["method"], s.labels["route"], s.labels["status"]) for s in requests}
    templated = [route for method, route, status in routes
                 if method == "GET" and status == "200" and route.startswith("/v1/projects/")]
    assert templated and all(re.fullmatch(r"/v1/projects/\{project_id(:str)?\}", route)
                             for route in templated), routes
    assert ("POST", "/v1/projects", "201") in routes
    assert ("POST", "/v1/auth/register", "201") in routes
    # Ids and unknown paths never become label values (unbounded cardinality).
    assert not any(project["id"] in route or "abc123" in route for _, route, _ in routes)
    assert any(status == "404" for _, _, status in routes)

    lag = samples(response.text, "bitstride_projection_lag_events")
    assert {s.labels["projection"] for s in lag} >= {"tenancy"}
    assert all(s.value >= 0 for s in lag)
    assert samples(response.text, "bitstride_http_request_duration_seconds_count")


async def test_metrics_content_type_is_well_formed(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    parameters = [p.strip().split("=")[0] for p in response.headers["content-type"].split(";")]
    assert len(parameters) == len(set(parameters)), response.headers["content-type"]


# -- gateway mode ----------------------------------------------------------------------------


async def test_gateway_mode_serves_operations_and_inference_only(
        sqlite_settings: Settings) -> None:
    async with in_process(sqlite_settings, "gateway") as (_plane, client):
        assert (await client.get("/health")).json() == {"status": "ok"}
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["routing"] == "ok"
        assert ready.json()["checks"]["auth_service"] == "ok"
        assert ready.json()["deployments"] == []
        metrics = await client.get("/metrics")
        assert samples(metrics.text, "bitstride_projection_lag_events")

        for method, path in [("GET", "/v1/projects"), ("POST", "/v1/projects"),
                             ("GET", "/v1/projects/proj_0123456789abcdef0123456789abcdef"),
                             ("POST", "/v1/auth/login"), ("POST", "/v1/auth/register"),
                             ("GET", "/v1/orgs/current"), ("GET", "/v1/api_keys")]:
            response = await client.request(method, path, json={})
            error_of(response, 404, "not_found")
            assert response.headers["x-request-id"]

        schema = (await client.get("/schema/openapi.json")).json()
        assert set(schema["paths"]) == {
            "/health", "/ready", "/metrics", "/v1/chat/completions", "/v1/completions",
            "/v1/embeddings", "/v1/models", "/v1/models/{model}"}


# -- OpenAPI ---------------------------------------------------------------------------------

DOCUMENTED_ROUTES = {
    "/v1/auth/register": {"post"}, "/v1/auth/login": {"post"},
    "/v1/auth/login/{provider}": {"get"}, "/v1/auth/callback/{provider}": {"get"},
    "/v1/auth/verify": {"get"}, "/v1/auth/logout": {"post"}, "/v1/auth/refresh": {"post"},
    "/v1/auth/mfa/enroll": {"post"}, "/v1/auth/mfa/verify": {"post"},
    "/v1/auth/mfa/verify-login": {"post"}, "/v1/auth/mfa/disable": {"post"},
    "/v1/api_keys": {"get", "post"}, "/v1/api_keys/{key_id}": {"put", "delete"},
    "/v1/projects": {"get", "post"}, "/v1/projects/{project_id}": {"get", "put", "delete"},
    "/v1/orgs/current": {"get", "put", "delete"},
    "/v1/deployments": {"get", "post"}, "/v1/deployments/{deployment_id}": {"get", "put"},
    "/health": {"get"}, "/ready": {"get"}, "/metrics": {"get"},
    "/v1/chat/completions": {"post"}, "/v1/completions": {"post"}, "/v1/embeddings": {"post"},
}


async def test_openapi_documents_every_route_and_its_errors(sqlite_settings: Settings) -> None:
    async with in_process(sqlite_settings, workers=False) as (_plane, client):
        response = await client.get("/schema/openapi.json")
        assert response.status_code == 200, response.text
        schema = response.json()
        assert schema["openapi"].startswith("3.1.")
        paths = schema["paths"]
        for path, methods in DOCUMENTED_ROUTES.items():
            assert path in paths, path
            assert methods <= set(paths[path]), (path, set(paths[path]))
        operation_ids = [op["operationId"] for item in paths.values()
                         for op in item.values() if isinstance(op, dict) and "operationId" in op]
        assert len(operation_ids) == len(set(operation_ids))

        envelope = schema["components"]["schemas"]["ErrorEnvelope"]
        assert "error" in envelope["properties"]
        for path in ("/v1/projects", "/v1/projects/{project_id}", "/v1/orgs/current"):
            for operation in paths[path].values():
                errors = {code for code in operation["responses"] if code.startswith("4")}
                assert "401" in errors, (path, operation["responses"].keys())
                assert "ErrorEnvelope" in str(operation["responses"]["401"])
        docs = await client.get("/schema")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")


def test_the_app_builds_without_deprecation_warnings(sqlite_settings: Settings) -> None:
    plane = ControlPlane(sqlite_settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", LitestarDeprecationWarning)
            create_control_plane_app(plane, "full")
    finally:
        plane.close()


# -- the bitstride command -------------------------------------------------------------------


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", env={"BITSTRIDE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    commands = set(re.findall(r"^\s{2}(\w+)\s", result.stdout, flags=re.MULTILINE))
    assert commands >= {"dev", "serve", "worker", "auth", "projections"}, result.stdout


def test_a_bad_setting_fails_with_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("projections", "status",
                     env={"BITSTRIDE_DATA_DIR": str(tmp_path), "BITSTRIDE_PORT": "eighty"})
    assert result.returncode != 0
    assert "BITSTRIDE_PORT must be an integer" in result.stderr
    assert "Traceback" not in result.stderr


async def test_projections_status_and_rebuild(sqlite_settings: Settings) -> None:
    async with in_process(sqlite_settings) as (_plane, client):
        ada = await sign_up(client, "ada")
        created = [await create_project(client, ada, f"p{i}") for i in range(3)]
    env = {"BITSTRIDE_DATA_DIR": str(sqlite_settings.data_dir)}

    status = run_cli("projections", "status", env=env)
    assert status.returncode == 0, status.stderr
    header, *rows = status.stdout.strip().splitlines()
    assert header.split() == ["projection", "generation", "position", "head", "lag"]
    table = {row.split()[0]: row.split()[1:] for row in rows}
    assert set(table) >= {"tenancy", "organization-closure", "personal-organizations"}
    generation, position, head, lag = map(int, table["tenancy"])
    assert generation == 1 and position == head > 0 and lag == 0

    rebuild = run_cli("projections", "rebuild", "tenancy", env=env)
    assert rebuild.returncode == 0, rebuild.stderr
    assert "Rebuilding tenancy" in rebuild.stdout
    assert "generation 2 is live" in rebuild.stdout

    after = run_cli("projections", "status", env=env)
    tenancy = {row.split()[0]: row.split()[1:] for row in after.stdout.splitlines()[1:]}
    assert tenancy["tenancy"][0] == "2" and tenancy["tenancy"][3] == "0"

    # The rebuilt generation serves the same data.
    async with in_process(sqlite_settings) as (_plane, client):
        tokens = (await client.post("/v1/auth/login", json={
            "email": ada.email, "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        listed = (await client.get("/v1/projects", headers=headers)).json()
        assert [p["id"] for p in listed["data"]] == [p["id"] for p in reversed(created)]

    unknown = run_cli("projections", "rebuild", "nope", env=env)
    assert unknown.returncode == 2
    assert "tenancy" in unknown.stderr


@pytest.mark.e2e
def test_sigterm_closes_the_stores(dev_server: DevServer) -> None:
    assert httpx.get(f"{dev_server.base_url}/health").status_code == 200
    dev_server.process.stop()
    leftovers = sorted(path.name for path in dev_server.data_dir.glob("*.sqlite3-wal"))
    assert leftovers == [], dev_server.process.output()
