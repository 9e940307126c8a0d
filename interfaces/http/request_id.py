"""X-Request-ID: accepted when well-formed, generated otherwise, echoed on every response."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SCOPE_KEY = "bitstride.request_id"
_ARRIVED_KEY = "bitstride.arrived"
_HEADER = b"x-request-id"


def request_id_of(scope: Any) -> str | None:
    return scope.get(_SCOPE_KEY)


def arrived_at(scope: Any) -> float | None:
    """`time.perf_counter()` when the request reached the outermost layer."""
    return scope.get(_ARRIVED_KEY)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Pure ASGI middleware: cheapest way to give every response and log line the id."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        arrived = time.perf_counter()
        supplied = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER),
                        None)
        rid = supplied if supplied and _VALID.match(supplied) else f"req_{uuid.uuid4().hex}"
        scope[_SCOPE_KEY] = rid  # type: ignore[literal-required]
        scope[_ARRIVED_KEY] = arrived  # type: ignore[literal-required]

        header = (_HEADER, rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(pair for pair in message.get("headers", ())
                                        if pair[0].lower() != _HEADER), header]
            await send(message)

        # bind/reset rather than `bound_contextvars`: its generator-based context manager cost
        # more than this whole middleware otherwise does.
        tokens = structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            await app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    return middleware
