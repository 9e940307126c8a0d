"""The control plane's Litestar app, in full or gateway mode."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme
from litestar.types import ASGIApp

from infra.metrics import Metrics
from infra.settings import RuntimeMode
from interfaces.control_plane import ControlPlane
from interfaces.http.api.audit import AuditController
from interfaces.http.api.auth_proxy import AUTH_PROXY_HANDLERS
from interfaces.http.api.auth_proxy_docs import document_proxied_routes
from interfaces.http.api.datasets import DatasetsController
from interfaces.http.api.deployments import DeploymentsController
from interfaces.http.api.fine_tuning import FineTuningJobsController
from interfaces.http.api.health import GATEWAY_HEALTH_HANDLERS, HEALTH_HANDLERS
from interfaces.http.api.inference import GATEWAY_MODEL_HANDLERS, INFERENCE_HANDLERS
from interfaces.http.api.invoices import InvoicesController
from interfaces.http.api.models import ModelsController
from interfaces.http.api.organizations import OrganizationsController
from interfaces.http.api.projects import ProjectsController
from interfaces.http.api.rl import RlJobsController
from interfaces.http.api.usage import UsageController
from interfaces.http.auth_service.app import create_auth_app
from interfaces.http.bounded_request import BoundedRequest
from interfaces.http.errors import EXCEPTION_HANDLERS
from interfaces.http.gateway.proxy import Gateway
from interfaces.http.metrics_middleware import metrics_middleware
from interfaces.http.request_id import request_id_middleware
from interfaces.http.request_limits import LIMITS_DOC, request_limits_middleware
from interfaces.http.security import Principal, authenticate

VERSION = "0.1.0"


def openapi_config(title: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=title, version=VERSION, path="/schema", description=LIMITS_DOC,
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        components=Components(security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}),
        security=[{"BearerToken": []}],
    )


def create_control_plane_app(plane: ControlPlane, mode: RuntimeMode = "full", *,
                             owns_plane: bool = False) -> Litestar:
    """`owns_plane`: close the plane when the server shuts down (the CLI's processes)."""
    gateway = Gateway(mode=mode, settings=plane.settings, routing=plane.routing,
                      metrics=plane.metrics, meter=plane.usage_meter,
                      limiter=plane.request_limiter, plane=plane)

    async def provide_plane() -> ControlPlane:
        return plane

    async def provide_gateway() -> Gateway:
        return gateway

    async def provide_principal(request: Request[Any, Any, Any],
                                plane: NamedDependency[ControlPlane]) -> Principal:
        """Takes `plane` so that Litestar resolves the two one after the other: dependencies
        of one level are resolved in an anyio task group, a task each per request, which cost
        about a sixth of a read's CPU."""
        return await authenticate(request, plane.verifier, plane.organization_states)

    async def close_plane() -> None:
        await anyio.to_thread.run_sync(plane.close)

    lifespans: list[Any] = []
    if plane.auth_app is not None:  # httpx's ASGI transport sends no lifespan events itself
        lifespans.append(lambda _app: plane.auth_app.lifespan())
    # Inference in both modes; gateway mode adds the models a key can call and its readiness.
    handlers: list[Any] = [*INFERENCE_HANDLERS]
    if mode == "full":
        handlers += [*HEALTH_HANDLERS, ProjectsController, OrganizationsController,
                     DatasetsController, ModelsController, FineTuningJobsController,
                     RlJobsController, DeploymentsController, UsageController, AuditController,
                     InvoicesController, *AUTH_PROXY_HANDLERS]
    else:
        handlers += [*GATEWAY_HEALTH_HANDLERS, *GATEWAY_MODEL_HANDLERS]
    app = Litestar(
        route_handlers=handlers,
        dependencies={"plane": Provide(provide_plane),
                      "gateway": Provide(provide_gateway),
                      "principal": Provide(provide_principal)},
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=plane.settings.max_body_bytes,
        request_class=BoundedRequest,
        openapi_config=openapi_config(f"Bitstride control plane ({mode} mode)"),
        lifespan=lifespans,
        on_startup=[gateway.startup, plane.verifier.prefetch],  # tokens verify in an outage
        on_shutdown=[gateway.shutdown, plane.auth_http.aclose,
                     *([close_plane] if owns_plane else [])],
        cors_config=cors_config(plane.settings.cors_origins),
        debug=False,
        # Logging is structlog's (infra/logging.py); Litestar's own config would start a
        # queue-listener thread per app that nothing stops.
        logging_config=None,
    )
    if mode == "full":
        document_proxied_routes(app.openapi_schema, auth_service_documentation(plane))
    return app


def auth_service_documentation(plane: ControlPlane) -> OpenAPI:
    """The auth service's document: of the app mounted in-process, or of the same app built
    here (never served) when the auth service runs elsewhere."""
    auth_app = plane.auth_app or create_auth_app(plane.settings, revocations=plane.revocations)
    return auth_app.openapi_schema


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """First-party frontends (CORS_ORIGINS) may call with credentials; `*` is never allowed."""
    allowed = [origin.rstrip("/") for origin in origins if origin != "*"]
    if not allowed:
        return None
    return CORSConfig(allow_origins=allowed, allow_credentials=True,
                      allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                      expose_headers=["X-Request-ID", "ETag", "Retry-After"], max_age=600)


def as_asgi(app: Litestar, metrics: Metrics) -> ASGIApp:
    """Outermost layers, around routing too, so 404s and 405s get a request id and a count,
    and an oversized request is refused before anything parses it."""
    return request_id_middleware(metrics_middleware(metrics)(request_limits_middleware(app)))

