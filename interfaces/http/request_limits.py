"""Limits on what a request line and its headers may hold, checked before any routing.

The body has its own limit (MAX_BODY_BYTES, Litestar's `request_max_body_size`) and JSON its
nesting limit (interfaces/http/bounded_request.py). Without these, one request could make the
server parse and carry megabytes of headers or thousands of query parameters: uvicorn's
httptools parser sets no limit of its own. Each answer is a 4xx in the error envelope.
"""

from __future__ import annotations

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from interfaces.http.errors import ErrorDetail, ErrorEnvelope, error_type
from interfaces.http.request_id import request_id_of

MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024  # names and values together
MAX_PATH_BYTES = 4 * 1024
MAX_QUERY_BYTES = 16 * 1024
MAX_QUERY_PARAMETERS = 256

LIMITS_DOC = (
    f"Any route refuses, in the error envelope and before reading the body: more than "
    f"{MAX_HEADERS} headers or {MAX_HEADER_BYTES // 1024} KiB of them (431 "
    f"`too_many_headers`, `headers_too_large`), a path over {MAX_PATH_BYTES // 1024} KiB or a "
    f"query string over {MAX_QUERY_BYTES // 1024} KiB (414 `uri_too_long`), more than "
    f"{MAX_QUERY_PARAMETERS} query parameters (400 `too_many_parameters`). A body over "
    "MAX_BODY_BYTES is 413 `request_too_large`; JSON nested too deeply is 400 `invalid_json`.")

_encode = msgspec.json.Encoder().encode


def _violation(scope: Scope) -> tuple[int, str, str] | None:
    """(status, code, message) of the first limit this request breaks, or None."""
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS:
        return 431, "too_many_headers", f"At most {MAX_HEADERS} request headers are accepted."
    if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
        return (431, "headers_too_large",
                f"Request headers may hold at most {MAX_HEADER_BYTES} bytes in all.")
    if len(scope.get("raw_path") or scope["path"].encode()) > MAX_PATH_BYTES:
        return 414, "uri_too_long", f"The path may hold at most {MAX_PATH_BYTES} bytes."
    query: bytes = scope.get("query_string", b"")
    if len(query) > MAX_QUERY_BYTES:
        return 414, "uri_too_long", f"The query string may hold at most {MAX_QUERY_BYTES} bytes."
    if query.count(b"&") >= MAX_QUERY_PARAMETERS:
        return (400, "too_many_parameters",
                f"At most {MAX_QUERY_PARAMETERS} query parameters are accepted.")
    return None


def request_limits_middleware(app: ASGIApp) -> ASGIApp:
    """Pure ASGI: refuses an oversized request before the framework parses any of it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        violation = _violation(scope) if scope["type"] == "http" else None
        if violation is None:
            await app(scope, receive, send)
            return
        status, code, message = violation
        body = _encode(ErrorEnvelope(error=ErrorDetail(
            code=code, message=message, type=error_type(status), param=None,
            request_id=request_id_of(scope))))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    return middleware
