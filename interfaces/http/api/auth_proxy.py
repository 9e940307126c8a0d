"""Compatibility shims: /v1/auth/* and /v1/api_keys/* proxied to the auth service.

One code path for both deployments: httpx over the network to AUTH_SERVICE_URL, or httpx's
ASGI transport to the auth app mounted in-process. Status, headers and body pass through; the
caller's address is forwarded; the auth service answering nothing becomes a 503 envelope.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from litestar import Request, Response, get, post, route
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.response import Stream

from interfaces.control_plane import ControlPlane
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of

_NOT_FORWARDED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                  "trailers", "transfer-encoding", "upgrade", "host", "content-length",
                  "x-forwarded-for", "x-real-ip"}
LOG_POSITION_HEADER = "bitstride-log-position"


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


async def forward(request: Request[Any, Any, Any], plane: ControlPlane) -> Response[Any]:
    upstream = plane.auth_http.build_request(
        request.method, request.url.path, params=request.url.query or None,
        headers=_request_headers(request), content=await request.body())
    try:
        response = await plane.auth_http.send(upstream, stream=True)
    except httpx.TransportError:
        raise ApiError(503, "service_unavailable",
                       "The auth service is unavailable; retry shortly.") from None
    if request.url.path == "/v1/auth/register" and response.status_code == 201:
        await _await_personal_organization(response, plane)
    return Stream(response.aiter_raw(), status_code=response.status_code,
                  headers=_response_headers(response),
                  background=BackgroundTask(response.aclose))


async def _await_personal_organization(response: httpx.Response, plane: ControlPlane) -> None:
    """Read-your-writes across services: answer once the new user's organization is visible."""
    position = response.headers.get(LOG_POSITION_HEADER)
    if position and position.isdigit():
        await anyio.to_thread.run_sync(plane.await_personal_organization, int(position))


_AUTH_POSTS = ["/v1/auth/register", "/v1/auth/login", "/v1/auth/logout", "/v1/auth/refresh",
               "/v1/auth/mfa/enroll", "/v1/auth/mfa/verify", "/v1/auth/mfa/verify-login",
               "/v1/auth/mfa/disable"]
_AUTH_GETS = ["/v1/auth/verify", "/v1/auth/login/{provider:str}",
              "/v1/auth/callback/{provider:str}", "/v1/auth/.well-known/jwks.json"]
_PROXY_DOC = "Proxied to the auth service (AUTH_SERVICE_URL, or in-process)."


@post(_AUTH_POSTS, operation_id="authPost", summary="Auth service command",
      description=_PROXY_DOC, tags=["Auth"], responses=errors(400, 401, 503))
async def auth_post(request: Request[Any, Any, Any],
                    plane: NamedDependency[ControlPlane]) -> Response[Any]:
    return await forward(request, plane)


@get(_AUTH_GETS, operation_id="authGet", summary="Auth service query or redirect",
     description=_PROXY_DOC, tags=["Auth"], responses=errors(400, 401, 503))
async def auth_get(request: Request[Any, Any, Any],
                   plane: NamedDependency[ControlPlane]) -> Response[Any]:
    return await forward(request, plane)


@route(["/v1/api_keys", "/v1/api_keys/{key_id:str}"], http_method=["GET", "POST", "PUT", "DELETE"],
       operation_id="apiKeys", summary="API keys", description=_PROXY_DOC, tags=["API keys"],
       responses=errors(400, 401, 404, 503))
async def api_keys(request: Request[Any, Any, Any],
                   plane: NamedDependency[ControlPlane]) -> Response[Any]:
    return await forward(request, plane)


AUTH_PROXY_HANDLERS = [auth_post, auth_get, api_keys]
