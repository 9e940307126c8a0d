"""Liveness, readiness and Prometheus metrics: present in both runtime modes."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
import msgspec
from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from prometheus_client import generate_latest

from interfaces.control_plane import ControlPlane
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError
from interfaces.http.gateway.proxy import Gateway

AUTH_CHECK_SECONDS = 1.0

# Prometheus' text format; Litestar adds the charset itself (a second one breaks scrapers).
PROMETHEUS_TEXT = "text/plain; version=1.0.0"


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


@get("/health", operation_id="health", summary="Liveness: touches no dependency",
     tags=["Operations"], security=[])
async def health() -> Health:
    return Health(status="ok")


@get("/ready", sync_to_thread=True, operation_id="ready", tags=["Operations"], security=[],
     summary="Readiness: event store, projection lag and Redis", responses=errors(503))
def ready(plane: NamedDependency[ControlPlane]) -> Readiness:
    checks = plane.readiness()
    failing = {name: result for name, result in checks.items() if result != "ok"}
    if failing:
        named = "; ".join(f"{name}: {result}" for name, result in failing.items())
        raise ApiError(503, "not_ready", f"Not ready: {named}.")
    return Readiness(status="ready", checks=checks)


class DeploymentReadiness(msgspec.Struct):
    id: str
    model: str  # the model's name, as requests name it
    ready_replicas: int


class GatewayReadiness(msgspec.Struct):
    status: str
    checks: dict[str, str]
    deployments: list[DeploymentReadiness]


@get("/ready", operation_id="readyGateway", tags=["Operations"], security=[],
     summary="Readiness of a gateway: routing table loaded, API keys checkable, usage "
             "accepted, event store and projection lag; lists the routable deployments",
     responses=errors(503))
async def gateway_ready(plane: NamedDependency[ControlPlane],
                        gateway: NamedDependency[Gateway]) -> GatewayReadiness:
    checks = await anyio.to_thread.run_sync(plane.readiness)
    checks["routing"] = gateway.routing.status()
    checks["auth_service"] = await _auth_service(plane)
    # The meter's buffer has room (it fills only while the database refuses the records).
    accepting = getattr(plane.usage_meter, "accepting", True)
    checks["metering"] = "ok" if accepting else "usage buffer full"
    failing = {name: result for name, result in checks.items() if result != "ok"}
    if failing:
        named = "; ".join(f"{name}: {result}" for name, result in failing.items())
        raise ApiError(503, "not_ready", f"Not ready: {named}.")
    deployments = [DeploymentReadiness(id=d.deployment_id, model=d.model,
                                       ready_replicas=d.ready_replicas)
                   for d in gateway.routing.snapshot.deployments]
    return GatewayReadiness(status="ready", checks=checks, deployments=deployments)


async def _auth_service(plane: ControlPlane) -> str:
    """API keys can be checked: the auth service (remote, or in-process) answers."""
    try:
        answer = await plane.auth_http.get("/health", timeout=AUTH_CHECK_SECONDS)
    except httpx.HTTPError as error:
        return f"unreachable ({type(error).__name__})"
    return "ok" if answer.status_code == 200 else f"answered HTTP {answer.status_code}"


@get("/metrics", sync_to_thread=True, operation_id="metrics", tags=["Operations"], security=[],
     summary="Prometheus metrics", media_type=MediaType.TEXT)
def metrics(plane: NamedDependency[ControlPlane]) -> Response[Any]:
    return Response(generate_latest(plane.metrics.registry), media_type=PROMETHEUS_TEXT)


HEALTH_HANDLERS = [health, ready, metrics]
GATEWAY_HEALTH_HANDLERS = [health, gateway_ready, metrics]
