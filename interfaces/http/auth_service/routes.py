"""Route handlers of the auth service. Each translates HTTP to one IdentityService command."""

from __future__ import annotations

import hmac
from functools import partial
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from application.identity.service import IdentityService
from application.identity.tokens import TokenPair
from domain.shared.ids import format_id, parse_id
from infra.auth.tokens import AccessTokenVerifier
from interfaces.http.auth_service.schemas import (
    HealthObject,
    JwksObject,
    LoginBody,
    OrganizationClosedObject,
    RefreshBody,
    RegisterBody,
    SessionRevokedObject,
    TokenPairObject,
    UserObject,
)
from interfaces.http.errors import ApiError, ErrorEnvelope
from interfaces.http.request_id import request_id_of

AnyRequest = Request[Any, Any, Any]
LOG_POSITION_HEADER = "Bitstride-Log-Position"


def _errors(**by_status: str) -> dict[int, ResponseSpec]:
    """OpenAPI docs for error responses, all in the one envelope: `_errors(e401="...")`."""
    return {int(key[1:]): ResponseSpec(data_container=ErrorEnvelope, description=text,
                                       generate_examples=False)
            for key, text in by_status.items()}


def _identity(request: AnyRequest) -> IdentityService:
    identity: IdentityService = request.app.state.identity
    return identity


def _verifier(request: AnyRequest) -> AccessTokenVerifier:
    verifier: AccessTokenVerifier = request.app.state.verifier
    return verifier


def _token_pair(pair: TokenPair) -> TokenPairObject:
    return TokenPairObject(access_token=pair.access_token, expires_in=pair.expires_in,
                           refresh_token=pair.refresh_token, token_type=pair.token_type)


def _bearer_token(request: AnyRequest) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send an access token as 'Authorization: Bearer ...'.",
                       headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


@post("/v1/auth/register", status_code=201, sync_to_thread=True, tags=["auth"],
      summary="Create a user (and name its personal organization)",
      response_headers=[ResponseHeader(
          name=LOG_POSITION_HEADER, documentation_only=True,
          description="Event-log position of the registration, for read-your-writes.")],
      responses=_errors(e400="Invalid email, name or password (8 to 1024 characters).",
                        e409="`email_taken`: the email is already registered.",
                        e413="The body is too large."))
def register(request: AnyRequest, data: JSONBody[RegisterBody]) -> Response[UserObject]:
    identity = _identity(request)
    user_id, position = identity.register(data.email, data.name, data.password,
                                          request_id=request_id_of(request.scope))
    user = identity.user(user_id)
    body = UserObject(id=format_id("user", user.id), email=user.email, name=user.name,
                      organization_id=format_id("org", user.organization_id),
                      created_at=int(user.registered_at))
    return Response(body, status_code=201, headers={LOG_POSITION_HEADER: str(position)})


@post("/v1/auth/login", status_code=200, sync_to_thread=True, tags=["auth"],
      summary="Exchange email and password for an access and a refresh token",
      responses=_errors(e400="The body is malformed.",
                        e401="`invalid_credentials`: unknown email or wrong password.",
                        e403="`organization_deleted`: the user's organization was deleted."))
def login(request: AnyRequest, data: JSONBody[LoginBody]) -> TokenPairObject:
    identity = _identity(request)
    pair = identity.login(data.email, data.password, identity.clock(),
                          request_id=request_id_of(request.scope))
    return _token_pair(pair)


@post("/v1/auth/refresh", status_code=200, sync_to_thread=True, tags=["auth"],
      summary="Rotate a refresh token; reusing an old one revokes the session",
      responses=_errors(e400="The body is malformed.",
                        e401="`invalid_refresh_token` (unknown, expired or revoked) or "
                             "`refresh_token_reused` (the session is now revoked).",
                        e403="`organization_deleted`: the session's organization was deleted.",
                        e409="The session changed concurrently too often; retry."))
def refresh(request: AnyRequest, data: JSONBody[RefreshBody]) -> TokenPairObject:
    identity = _identity(request)
    pair = identity.refresh(data.refresh_token, identity.clock(),
                            request_id=request_id_of(request.scope))
    return _token_pair(pair)


@post("/v1/auth/logout", status_code=200, tags=["auth"],
      summary="End the session of the presented access token",
      responses=_errors(e401="Missing, invalid, expired or revoked access token."))
async def logout(request: AnyRequest) -> SessionRevokedObject:
    claims = await _verifier(request).verify(_bearer_token(request))
    identity = _identity(request)
    command = partial(identity.logout, parse_id("sess", claims.session_id), identity.clock(),
                      request_id=request_id_of(request.scope))
    await anyio.to_thread.run_sync(command)
    return SessionRevokedObject()


@get("/v1/auth/.well-known/jwks.json", tags=["auth"], cache=False,
     summary="Public keys that verify access tokens (RFC 7517)")
async def jwks(request: AnyRequest) -> JwksObject:
    return JwksObject(keys=_identity(request).jwks()["keys"])


@post("/internal/organizations/{org_id:str}/close", status_code=200, sync_to_thread=True,
      tags=["internal"],
      summary="Close an organization: refuse its logins and refreshes, revoke its sessions",
      responses=_errors(e401="Missing or wrong X-Internal-Token.",
                        e404="The organization id is malformed."))
def close_organization(request: AnyRequest, org_id: FromPath[str]) -> OrganizationClosedObject:
    _require_internal_token(request)
    org_uuid = parse_id("org", org_id)
    identity = _identity(request)
    revoked = identity.close_organization(org_uuid, identity.clock(),
                                          request_id=request_id_of(request.scope))
    return OrganizationClosedObject(id=format_id("org", org_uuid), revoked_sessions=revoked)


def _require_internal_token(request: AnyRequest) -> None:
    """Service-to-service guard; with no token configured, the route refuses everyone."""
    expected: str | None = request.app.state.internal_token
    supplied = request.headers.get("x-internal-token", "")
    if expected is None or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "A valid X-Internal-Token header is required.")


@get("/health", tags=["ops"], summary="Liveness")
async def health() -> HealthObject:
    return HealthObject()


ROUTES = [register, login, refresh, logout, jwks, close_organization, health]
