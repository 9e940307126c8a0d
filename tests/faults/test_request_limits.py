"""Requests past every limit (size, length, depth, count) answer a 4xx in the envelope.

Against real processes behind uvicorn, because some limits live in front of the framework:
`bitstride dev` (control plane, embedded auth service, worker) and `bitstride auth serve`.
Every request has a timeout, so a server that hangs on one fails the test instead of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from interfaces.http.request_limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_PATH_BYTES,
    MAX_QUERY_BYTES,
    MAX_QUERY_PARAMETERS,
)
from tests.e2e.conftest import Account, error_of, free_port, running, sign_up

pytestmark = pytest.mark.e2e

MAX_BODY_BYTES = 64 * 1024
DEPTH = 10_000
ANSWER_SECONDS = 10.0


@dataclass
class Servers:
    control_plane: httpx.Client
    auth_service: httpx.Client
    account: Account
    api_key: str


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("limits")
    ports = {"dev": free_port(), "auth": free_port()}
    env = {"MAX_BODY_BYTES": str(MAX_BODY_BYTES), "TRAINING_EXECUTOR": "none",
           "DEPLOYMENT_CONTROLLER": "off"}
    with running(["dev", "--port", str(ports["dev"])],
                 {**env, "BITSTRIDE_DATA_DIR": str(tmp / "dev")}, tmp / "dev.log") as dev, \
            running(["auth", "serve", "--port", str(ports["auth"])],
                    {**env, "BITSTRIDE_DATA_DIR": str(tmp / "auth")}, tmp / "auth.log") as auth:
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        dev.wait_healthy(urls["dev"])
        auth.wait_healthy(urls["auth"])
        with httpx.Client(base_url=urls["dev"], timeout=ANSWER_SECONDS) as control_plane, \
                httpx.Client(base_url=urls["auth"], timeout=ANSWER_SECONDS) as auth_service:
            account = asyncio.run(_signed_up(urls["dev"]))
            key = control_plane.post("/v1/api_keys", headers=account.headers,
                                     json={"name": "limits", "scopes": ["all"]})
            assert key.status_code == 201, key.text
            yield Servers(control_plane, auth_service, account, key.json()["key"])


async def _signed_up(base_url: str) -> Account:
    async with httpx.AsyncClient(base_url=base_url, timeout=ANSWER_SECONDS) as client:
        return await sign_up(client, "limits")


def nested(depth: int) -> bytes:
    return b'{"name": "deep", "metadata": ' + b"[" * depth + b"]" * depth + b"}"


# -- bodies --------------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_past_max_body_bytes_is_413(servers: Servers, chunked: bool) -> None:
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    content = iter([body[:100], body[100:]]) if chunked else body
    answer = servers.control_plane.post("/v1/projects", headers=servers.account.headers,
                                        content=content)
    error_of(answer, 413, "request_too_large")


def test_the_auth_service_refuses_a_body_past_max_body_bytes(servers: Servers) -> None:
    body = b'{"email": "' + b"x" * MAX_BODY_BYTES + b'"}'
    error_of(servers.auth_service.post("/v1/auth/login", content=body), 413,
             "request_too_large")


@pytest.mark.parametrize("target", ["control plane", "auth service", "gateway"])
def test_json_nested_ten_thousand_deep_is_400(servers: Servers, target: str) -> None:
    requests: dict[str, Callable[[], httpx.Response]] = {
        "control plane": lambda: servers.control_plane.post(
            "/v1/projects", headers=servers.account.headers, content=nested(DEPTH)),
        "auth service": lambda: servers.auth_service.post(
            "/v1/auth/register", content=nested(DEPTH)),
        "gateway": lambda: servers.control_plane.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {servers.api_key}"},
            content=b'{"model": "m", "messages": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"),
    }
    error = error_of(requests[target](), 400, "invalid_json")
    assert "nested too deeply" in error["message"]


def test_a_field_far_past_its_length_is_400_naming_it(servers: Servers) -> None:
    answer = servers.control_plane.post("/v1/projects", headers=servers.account.headers,
                                        json={"name": "n" * 50_000})
    assert error_of(answer, 400, "invalid_request")["param"] == "name"


# -- the request line ------------------------------------------------------------------------

def test_a_huge_limit_is_400_naming_it(servers: Servers) -> None:
    for limit in ("101", "9" * 400, "-1"):
        answer = servers.control_plane.get("/v1/projects", headers=servers.account.headers,
                                           params={"limit": limit})
        assert error_of(answer, 400, "invalid_request")["param"] == "limit"


def test_an_unknown_cursor_is_quoted_only_in_part(servers: Servers) -> None:
    answer = servers.control_plane.get("/v1/projects", headers=servers.account.headers,
                                       params={"after": "proj_" + "f" * 4000})
    assert len(error_of(answer, 404, "not_found")["message"]) < 200


TARGETS = ("control plane", "auth service")


def client_of(servers: Servers, target: str) -> tuple[httpx.Client, str]:
    """The target's client and a collection it serves (with DELETE on its members)."""
    if target == "control plane":
        return servers.control_plane, "/v1/projects"
    return servers.auth_service, "/v1/api_keys"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("query", "status", "code"), [
    ("after=" + "a" * MAX_QUERY_BYTES, 414, "uri_too_long"),
    ("&".join(["a=1"] * (MAX_QUERY_PARAMETERS + 1)), 400, "too_many_parameters"),
    ("&".join(["limit=1"] * 5000), 414, "uri_too_long"),
], ids=["a long query string", "too many parameters", "thousands of parameters"])
def test_a_query_string_past_its_limits_is_4xx(servers: Servers, target: str, query: str,
                                               status: int, code: str) -> None:
    client, collection = client_of(servers, target)
    error_of(client.get(f"{collection}?{query}", headers=servers.account.headers), status, code)


@pytest.mark.parametrize("target", TARGETS)
def test_a_long_path_is_414(servers: Servers, target: str) -> None:
    client, collection = client_of(servers, target)
    answer = client.delete(f"{collection}/{'p' * MAX_PATH_BYTES}",
                           headers=servers.account.headers)
    error_of(answer, 414, "uri_too_long")


# -- headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("headers", "code"), [
    ({"X-Padding": "h" * 64 * 1024}, "headers_too_large"),
    ({"Authorization": "Bearer " + "t" * MAX_HEADER_BYTES}, "headers_too_large"),
    ({f"X-Header-{n}": "v" for n in range(MAX_HEADERS + 1)}, "too_many_headers"),
], ids=["a 64 KB header", "a 32 KB token", "too many headers"])
def test_headers_past_their_limits_are_431(servers: Servers, target: str,
                                           headers: dict[str, str], code: str) -> None:
    client, collection = client_of(servers, target)
    error_of(client.get(collection, headers=headers), 431, code)


def test_requests_within_the_limits_still_work(servers: Servers) -> None:
    """The limits leave room for real requests: many headers, a long query, a big body."""
    headers = {**servers.account.headers,
               **{f"X-Header-{n}": "v" * 100 for n in range(MAX_HEADERS - 20)}}
    listed = servers.control_plane.get(
        "/v1/projects", headers=headers,
        params=[("limit", "5"), *[("ignored", "x" * 20)] * (MAX_QUERY_PARAMETERS - 2)])
    assert listed.status_code == 200, listed.text
    created = servers.control_plane.post(
        "/v1/projects", headers=servers.account.headers,
        json={"name": "within", "description": "d" * 2000})
    assert created.status_code == 201, created.text

