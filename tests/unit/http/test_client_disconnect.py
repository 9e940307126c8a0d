"""A client that leaves before its body arrived is a plain log line and a 499, not a 500
with a traceback (what Litestar raises for it, handled in interfaces/http/errors.py)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, post
from structlog.testing import capture_logs

from interfaces.http.bounded_request import BoundedRequest
from interfaces.http.errors import EXCEPTION_HANDLERS

pytestmark = pytest.mark.anyio


@post("/echo", status_code=200)
async def echo(request: Request[Any, Any, Any]) -> bytes:
    return await request.body()


APP = Litestar([echo], exception_handlers=EXCEPTION_HANDLERS, request_class=BoundedRequest)


async def call(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST /echo through the app, the body arriving as `messages`; what the app sent."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/echo", "raw_path": b"/echo",
             "query_string": b"", "root_path": "", "headers": [(b"content-length", b"10")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    pending, sent = list(messages), []

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_a_client_gone_mid_body_is_499_and_one_info_line() -> None:
    with capture_logs() as logs:
        sent = await call([{"type": "http.request", "body": b"hello", "more_body": True},
                           {"type": "http.disconnect"}])
    assert sent[0]["status"] == 499
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("client_disconnected", "info")]


async def test_a_whole_body_still_arrives() -> None:
    sent = await call([{"type": "http.request", "body": b"hello", "more_body": True},
                       {"type": "http.request", "body": b"world", "more_body": False}])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"helloworld"
