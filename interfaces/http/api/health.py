"""Liveness, readiness and Prometheus metrics: present in both runtime modes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from prometheus_client import generate_latest

from interfaces.control_plane import ControlPlane
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError

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


@get("/metrics", sync_to_thread=True, operation_id="metrics", tags=["Operations"], security=[],
     summary="Prometheus metrics", media_type=MediaType.TEXT)
def metrics(plane: NamedDependency[ControlPlane]) -> Response[Any]:
    return Response(generate_latest(plane.metrics.registry), media_type=PROMETHEUS_TEXT)


HEALTH_HANDLERS = [health, ready, metrics]
