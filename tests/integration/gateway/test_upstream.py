"""UpstreamClient (the gateway's aiohttp client to replicas) against a real local HTTP server.

Each failure the proxy acts on is produced for real: a refused connection, a full pool, and a
connection that breaks mid-answer; and an answer read to its end gives its connection back.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from interfaces.http.gateway.upstream import (
    UpstreamBrokeError,
    UpstreamBusyError,
    UpstreamClient,
    UpstreamConnectError,
)

pytestmark = pytest.mark.anyio
HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def answer(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def break_midway(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"x" * 10)
    assert request.transport is not None
    request.transport.close()  # the replica dies with 990 bytes still owed
    return response


@pytest.fixture
async def replica() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/ok", answer)
    app.router.add_post("/broken", break_midway)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


async def started(pool_size: int = 2) -> UpstreamClient:
    client = UpstreamClient(pool_size=pool_size, connect_timeout=0.5)
    await client.start()
    return client


async def test_an_answer_read_whole_frees_its_slot_for_the_next(replica: str) -> None:
    client = await started(pool_size=1)
    for _ in range(3):  # one slot: each request needs the one before it to give it back
        response = await client.post(f"{replica}/ok", b"{}", HEADERS)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert await response.aread() == b'{"ok": true}'
        await response.aclose()
    await client.close()


async def test_a_full_pool_is_busy_after_the_connect_timeout(replica: str) -> None:
    client = await started(pool_size=1)
    held = await client.post(f"{replica}/ok", b"{}", HEADERS)  # not read, not closed
    with pytest.raises(UpstreamBusyError):
        await client.post(f"{replica}/ok", b"{}", HEADERS)
    await held.aclose()
    await client.close()


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        client = await started()
        with pytest.raises(UpstreamConnectError):
            await client.post(f"http://127.0.0.1:{port}/ok", b"{}", HEADERS)
    await client.close()


async def test_a_connection_broken_mid_answer_is_a_broken_upstream(replica: str) -> None:
    client = await started(pool_size=1)
    response = await client.post(f"{replica}/broken", b"{}", HEADERS)
    with pytest.raises(UpstreamBrokeError):
        await asyncio.wait_for(response.aread(), 5)
    await response.aclose()
    ok = await client.post(f"{replica}/ok", b"{}", HEADERS)  # its slot came back
    await ok.aclose()
    await client.close()


async def set_cookie(_request: web.Request) -> web.Response:
    response = web.json_response({"ok": True})
    response.set_cookie("replica_session", "from-an-earlier-request")
    return response


async def echo_cookie(request: web.Request) -> web.Response:
    return web.json_response({"cookie": request.headers.get("Cookie")})


async def test_a_replica_s_cookie_is_never_sent_with_a_later_request() -> None:
    """The client is shared by every tenant's requests: a cookie one answer set must not
    ride along on the next, whoever makes it (and keeping none costs nothing per request)."""
    app = web.Application()
    app.router.add_post("/set", set_cookie)
    app.router.add_post("/echo", echo_cookie)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = await started()
    try:
        base = f"http://localhost:{server.port}"  # a host name: IP hosts keep no cookies
        first = await client.post(f"{base}/set", b"{}", HEADERS)
        assert "replica_session" in first.headers.get("set-cookie", "")
        await first.aread()
        await first.aclose()
        second = await client.post(f"{base}/echo", b"{}", HEADERS)
        assert await second.aread() == b'{"cookie": null}'
        await second.aclose()
    finally:
        await client.close()
        await server.close()
