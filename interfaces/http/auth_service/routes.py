"""Route handlers of the auth service's core: register, login, refresh, logout, keys.

Each translates HTTP to one use case; the feature modules beside this one (verification, MFA,
provider login, API keys) share the small helpers defined here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, JSONBody

from application.identity.mfa import MfaChallengeIssued
from application.identity.service import IdentityService
from application.identity.signin import SignIn
from application.identity.tokens import TokenPair
from domain.identity.factor_errors import ThrottledError
from domain.shared.ids import format_id, parse_id
from infra.auth.tokens import AccessTokenVerifier
from interfaces.http.auth_service.schemas import (
    HealthObject,
    JwksObject,
    LoginBody,
    MfaRequiredObject,
    OrganizationClosedObject,
    RefreshBody,
    RegisterBody,
    SessionRevokedObject,
    TokenPairObject,
    UserObject,
)
from interfaces.http.bearer import bearer_token, error_docs, require_internal_token
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of

AnyRequest = Request[Any, Any, Any]
LOG_POSITION_HEADER = "Bitstride-Log-Position"


def _identity(request: AnyRequest) -> IdentityService:
    identity: IdentityService = request.app.state.identity
    return identity


def _verifier(request: AnyRequest) -> AccessTokenVerifier:
    verifier: AccessTokenVerifier = request.app.state.verifier
    return verifier


def _sign_in(request: AnyRequest) -> SignIn:
    sign_in: SignIn = request.app.state.sign_in
    return sign_in


def _token_pair(pair: TokenPair) -> TokenPairObject:
    return TokenPairObject(access_token=pair.access_token, expires_in=pair.expires_in,
                           refresh_token=pair.refresh_token, token_type=pair.token_type)


def client_ip(request: AnyRequest) -> str:
    """The caller's address. X-Forwarded-For counts only when a trusted proxy (the control
    plane, which replaces the header with the address it saw) made the request."""
    direct = request.client.host if request.client is not None else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    if not forwarded or not direct:
        return direct
    try:
        address = ipaddress.ip_address(direct)
    except ValueError:
        return direct
    trusted = request.app.state.get("trusted_proxies", ())
    if any(address in network for network in trusted):
        return forwarded.split(",")[-1].strip() or direct
    return direct


@contextmanager
def throttled_as_429() -> Iterator[None]:
    """A throttled use case becomes 429 `rate_limited` with Retry-After."""
    try:
        yield
    except ThrottledError as error:
        raise ApiError(429, error.code, error.message,
                       headers={"Retry-After": str(error.retry_after)}) from None


@post("/v1/auth/register", status_code=201, sync_to_thread=True, tags=["auth"],
      summary="Create a user (and name its personal organization); mails a verification link",
      response_headers=[ResponseHeader(
          name=LOG_POSITION_HEADER, documentation_only=True,
          description="Event-log position of the registration, for read-your-writes.")],
      responses=error_docs(e400="Invalid email, name or password (8 to 1024 characters).",
                           e409="`email_taken`: the email is already registered.",
                           e413="The body is too large."))
def register(request: AnyRequest, data: JSONBody[RegisterBody]) -> Response[UserObject]:
    identity = _identity(request)
    request_id = request_id_of(request.scope)
    user_id, position = identity.register(data.email, data.name, data.password,
                                          request_id=request_id)
    request.app.state.email_verifications.send(user_id, identity.clock(), request_id=request_id)
    user = identity.user(user_id)
    body = UserObject(id=format_id("user", user.id), email=user.email, name=user.name,
                      organization_id=format_id("org", user.organization_id),
                      created_at=int(user.registered_at))
    return Response(body, status_code=201, headers={LOG_POSITION_HEADER: str(position)})


@post("/v1/auth/login", status_code=200, sync_to_thread=True, tags=["auth"],
      summary="Exchange email and password for tokens, or for an MFA challenge",
      description="With TOTP on, the answer is `{mfa_required: true, mfa_token, expires_in}`; "
                  "redeem it at POST /v1/auth/mfa/verify-login.",
      responses=error_docs(
          e400="The body is malformed.",
          e401="`invalid_credentials`: unknown email or wrong password.",
          e403="`organization_deleted`, or `email_not_verified` when verification is required.",
          e429="`rate_limited`: too many failed logins for this account or client."))
def login(request: AnyRequest,
          data: JSONBody[LoginBody]) -> TokenPairObject | MfaRequiredObject:
    identity = _identity(request)
    with throttled_as_429():
        result = _sign_in(request).login(data.email, data.password, identity.clock(),
                                         client_ip=client_ip(request),
                                         request_id=request_id_of(request.scope))
    if isinstance(result, MfaChallengeIssued):
        return MfaRequiredObject(mfa_token=result.mfa_token, expires_in=result.expires_in)
    return _token_pair(result)


@post("/v1/auth/refresh", status_code=200, sync_to_thread=True, tags=["auth"],
      summary="Rotate a refresh token; reusing an old one revokes the session",
      responses=error_docs(
          e400="The body is malformed.",
          e401="`invalid_refresh_token` (unknown, expired or revoked) or "
               "`refresh_token_reused` (the session is now revoked).",
          e403="`organization_deleted`: the session's organization was deleted.",
          e409="The session changed concurrently too often; retry.",
          e429="`rate_limited`: too many refreshes of this session."))
def refresh(request: AnyRequest, data: JSONBody[RefreshBody]) -> TokenPairObject:
    identity = _identity(request)
    with throttled_as_429():
        pair = _sign_in(request).refresh(data.refresh_token, identity.clock(),
                                         request_id=request_id_of(request.scope))
    return _token_pair(pair)


@post("/v1/auth/logout", status_code=200, tags=["auth"],
      summary="End the session of the presented access token",
      responses=error_docs(e401="Missing, invalid, expired or revoked access token."))
async def logout(request: AnyRequest) -> SessionRevokedObject:
    claims = await _verifier(request).verify(bearer_token(request))
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
      responses=error_docs(e401="Missing or wrong X-Internal-Token.",
                           e404="The organization id is malformed."))
def close_organization(request: AnyRequest, org_id: FromPath[str]) -> OrganizationClosedObject:
    require_internal_token(request, request.app.state.internal_token)
    org_uuid = parse_id("org", org_id)
    identity = _identity(request)
    revoked = identity.close_organization(org_uuid, identity.clock(),
                                          request_id=request_id_of(request.scope))
    return OrganizationClosedObject(id=format_id("org", org_uuid), revoked_sessions=revoked)


@get("/health", tags=["ops"], summary="Liveness")
async def health() -> HealthObject:
    return HealthObject()


ROUTES = [register, login, refresh, logout, jwks, close_organization, health]
