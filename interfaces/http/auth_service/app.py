"""The auth service's Litestar app factory (`bitstride auth serve`, or mounted in-process)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from application.identity.service import IdentityService
from application.identity.tokens import TokenPolicy
from application.ports import SessionRevocations
from infra.auth.passwords import Argon2PasswordHasher
from infra.auth.signing import Ed25519Signer
from infra.auth.tokens import AccessTokenVerifier, InvalidTokenError, KeySetUnavailableError
from infra.eventstore import eventstore_env, setup_lock
from infra.settings import Settings
from interfaces.http.auth_service import api_keys, mfa, oauth, verification
from interfaces.http.auth_service.routes import ROUTES as CORE_ROUTES
from interfaces.http.bounded_request import BoundedRequest
from interfaces.http.errors import EXCEPTION_HANDLERS, envelope
from interfaces.http.request_id import request_id_middleware
from interfaces.http.request_limits import LIMITS_DOC, request_limits_middleware

# Each feature module contributes ROUTES and an install(state, settings, identity, revocations).
FEATURES = (verification, mfa, oauth, api_keys)


def token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(issuer=settings.auth_issuer, audience=settings.auth_audience,
                       access_ttl_seconds=settings.access_token_ttl_seconds,
                       refresh_ttl_seconds=settings.refresh_token_ttl_seconds)


def build_identity_service(settings: Settings, revocations: SessionRevocations) -> IdentityService:
    """The production wiring: argon2id, the Ed25519 key file, the auth event store."""
    with setup_lock(settings.auth_database_url):  # tables, beside other processes starting
        env = eventstore_env(settings.auth_database_url, settings.auth_sqlite_path,
                             settings.auth_database_schema)
        return IdentityService(env, passwords=Argon2PasswordHasher(),
                               signer=Ed25519Signer.load_or_create(settings.signing_key_path),
                               revocations=revocations, policy=token_policy(settings),
                               clock=time.time)


def _invalid_token_handler(request: Request[Any, Any, Any],
                           exc: InvalidTokenError) -> Response[Any]:
    return envelope(request, 401, exc.code, exc.message,
                    headers={"WWW-Authenticate": f'Bearer error="{exc.code}"'})


def _key_set_unavailable_handler(request: Request[Any, Any, Any],
                                 exc: KeySetUnavailableError) -> Response[Any]:
    return envelope(request, 503, "service_unavailable", "Signing keys are unavailable.")


def create_auth_app(settings: Settings, *, revocations: SessionRevocations,
                    identity: IdentityService | None = None) -> Litestar:
    """Build the app; without `identity`, one is built from settings at startup and closed after."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        service = identity or build_identity_service(settings, revocations)

        async def local_jwks() -> dict[str, Any]:
            return service.jwks()

        app.state.identity = service
        for feature in FEATURES:
            feature.install(app.state, settings, service, revocations)
        app.state.verifier = AccessTokenVerifier(
            local_jwks, issuer=settings.auth_issuer, audience=settings.auth_audience,
            revocations=revocations)
        try:
            yield
        finally:
            if identity is None:
                service.close()

    return Litestar(
        route_handlers=[*CORE_ROUTES, *(route for f in FEATURES for route in f.ROUTES)],
        exception_handlers={
            **EXCEPTION_HANDLERS,
            InvalidTokenError: _invalid_token_handler,
            KeySetUnavailableError: _key_set_unavailable_handler,
        },
        middleware=[request_id_middleware, request_limits_middleware],
        lifespan=[lifespan],
        state=State({"internal_token": settings.auth_internal_token}),
        request_max_body_size=settings.max_body_bytes,
        request_class=BoundedRequest,
        openapi_config=OpenAPIConfig(title="Bitstride auth service", version="1.0.0",
                                     path="/schema", description=LIMITS_DOC,
                                     render_plugins=[ScalarRenderPlugin()]),
        logging_config=None,  # structlog logs (infra/logging.py); see the control plane's app
    )
