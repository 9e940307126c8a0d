"""Compatibility shims: /v1/auth/* and /v1/api_keys/* proxied to the auth service.

One code path for both deployments: httpx over the network to AUTH_SERVICE_URL, or httpx's
ASGI transport to the auth app mounted in-process. Status, headers and body pass through; the
caller's address is forwarded; the auth service answering nothing becomes a 503 envelope.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes

import anyio
import httpx
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from interfaces.control_plane import ControlPlane
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of

_NOT_FORWARDED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                  "trailers", "transfer-encoding", "upgrade", "host", "content-length",
                  "x-forwarded-for", "x-real-ip"}
LOG_POSITION_HEADER = "bitstride-log-position"
_VISIBLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))  # kept as sent; other bytes are escaped


def _request_headers(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
    if request.client is not None:
        headers.append(("x-forwarded-for", request.client.host))
    rid = request_id_of(request.scope)
    if rid:
        headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
        headers.append(("x-request-id", rid))
    return headers


def _response_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() not in _NOT_FORWARDED}


def _target(request: Request[Any, Any, Any]) -> str:
    """The path and query as the client sent them: decoding them first would turn an escaped
    control character into one that no URL may hold (a 500 before the request even left)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return quote_from_bytes(raw_path + (b"?" + query if query else b""), safe=_VISIBLE_ASCII)


async def forward(request: Request[Any, Any, Any], plane: ControlPlane) -> Response[Any]:
    upstream = plane.auth_http.build_request(
        request.method, _target(request), headers=_request_headers(request),
        content=await request.body())
    try:
        response = await plane.auth_http.send(upstream, stream=True)
    except httpx.TransportError:
        raise ApiError(503, "service_unavailable",
                       "The auth service is unavailable; retry shortly.") from None
    # A registration, or a first provider login, created a user: answer once their org exists.
    if response.status_code in (200, 201, 302) and (
            request.url.path == "/v1/auth/register"
            or request.url.path.startswith("/v1/auth/callback/")):
        await _await_personal_organization(response, plane)
    return Stream(response.aiter_raw(), status_code=response.status_code,
                  headers=_response_headers(response),
                  background=BackgroundTask(response.aclose))


async def _await_personal_organization(response: httpx.Response, plane: ControlPlane) -> None:
    """Read-your-writes across services: answer once the new user's organization is visible."""
    position = response.headers.get(LOG_POSITION_HEADER)
    if position and position.isdigit():
        await anyio.to_thread.run_sync(plane.await_personal_organization, int(position))


def proxy_route(method: str, path: str, operation_id: str, summary: str) -> HTTPRouteHandler:
    """One route that forwards to the auth service; its body and answers are documented from
    the auth service's own document (auth_proxy_docs.py)."""

    async def proxied(request: Request[Any, Any, Any],
                      plane: NamedDependency[ControlPlane]) -> Response[Any]:
        return await forward(request, plane)

    return HTTPRouteHandler(path, http_method=method, operation_id=operation_id, status_code=200,
                            summary=summary, description=_PROXY_DOC,
                            tags=["API keys" if "api_keys" in path else "Auth"])(proxied)


_PROXY_DOC = "Proxied to the auth service (AUTH_SERVICE_URL, or the in-process auth app)."
_ROUTES = [
    ("POST", "/v1/auth/register", "register", "Create a user and their organization"),
    ("POST", "/v1/auth/login", "login", "Log in with email and password"),
    ("GET", "/v1/auth/login/{provider:str}", "loginWithProvider",
     "Start an OAuth/OIDC login"),
    ("GET", "/v1/auth/callback/{provider:str}", "oauthCallback",
     "Finish an OAuth/OIDC login"),
    ("GET", "/v1/auth/verify", "verifyEmail", "Verify an email address"),
    ("POST", "/v1/auth/verify/resend", "resendVerification", "Resend the verification email"),
    ("POST", "/v1/auth/logout", "logout", "End the current session"),
    ("POST", "/v1/auth/refresh", "refresh", "Rotate a refresh token"),
    ("POST", "/v1/auth/mfa/enroll", "enrollMfa", "Start TOTP enrolment"),
    ("POST", "/v1/auth/mfa/verify", "verifyMfa", "Activate TOTP with a code"),
    ("POST", "/v1/auth/mfa/verify-login", "verifyMfaLogin",
     "Finish a login with a second factor"),
    ("POST", "/v1/auth/mfa/disable", "disableMfa", "Turn TOTP off"),
    ("GET", "/v1/auth/.well-known/jwks.json", "jwks", "Keys that verify access tokens"),
    ("GET", "/v1/api_keys", "listApiKeys", "List API keys"),
    ("POST", "/v1/api_keys", "createApiKey", "Create an API key"),
    ("PUT", "/v1/api_keys/{key_id:str}", "updateApiKey", "Update an API key"),
    ("DELETE", "/v1/api_keys/{key_id:str}", "deleteApiKey", "Revoke an API key"),
]

AUTH_PROXY_HANDLERS = [proxy_route(*route) for route in _ROUTES]
