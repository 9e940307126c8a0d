"""Every error, whatever raised it, is the one envelope with a request id (DESIGN §5)."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, build_app, error_of, sign_up

pytestmark = pytest.mark.anyio

MAX_BODY_BYTES = 4096


@get("/v1/_test/explode", sync_to_thread=False, include_in_schema=False)
def explode() -> None:
    raise RuntimeError("secret detail")


@get("/v1/_test/misconfigured", sync_to_thread=False, include_in_schema=False)
def misconfigured() -> None:
    raise ImproperlyConfiguredException("secret detail of the configuration")


@pytest.fixture
def backend_settings(sqlite_settings: Settings) -> Settings:
    """The HTTP layer is the same on every store: SQLite only, with a small body limit."""
    return sqlite_settings.with_overrides(max_body_bytes=MAX_BODY_BYTES)


@pytest.fixture
def app(plane: ControlPlane) -> Litestar:
    app = build_app(plane, "full")
    app.register(explode)
    app.register(misconfigured)
    return app


@pytest.fixture
async def ada(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, "ada")


def exact_envelope(response: httpx.Response) -> dict[str, object]:
    """Exactly code, message, type, param (+ request_id, the response's X-Request-ID)."""
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"code", "message", "type", "param", "request_id"}, error
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["type"] in {"invalid_request_error", "authentication_error", "permission_error",
                             "rate_limit_error", "server_error", "service_unavailable_error"}
    return dict(error)


# -- routing ---------------------------------------------------------------------------------


async def test_unknown_route_is_a_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")
    error = error_of(response, 404, "not_found")
    assert exact_envelope(response) == error
    assert error["param"] is None and error["type"] == "invalid_request_error"


async def test_wrong_method_is_a_405_envelope(client: httpx.AsyncClient, ada: Account) -> None:
    response = await client.patch("/v1/projects", headers=ada.headers, json={})
    error = error_of(response, 405, "method_not_allowed")
    assert exact_envelope(response) == error
    assert "PATCH" in error["message"]


# -- bodies ----------------------------------------------------------------------------------


async def test_malformed_json_is_invalid_json(client: httpx.AsyncClient, ada: Account) -> None:
    response = await client.post("/v1/projects", content=b'{"name": "x",',
                                 headers={**ada.headers, "Content-Type": "application/json"})
    error = error_of(response, 400, "invalid_json")
    assert exact_envelope(response) == error


@pytest.mark.parametrize(("body", "param"), [
    ({"name": 5}, "name"),
    ({"name": ["a"]}, "name"),
    ({"name": "ok", "description": 7}, "description"),
    ({"name": "ok", "metadata": {"k": 1}}, "metadata"),
    ({}, "name"),
    ({"description": "no name"}, "name"),
])
async def test_invalid_fields_are_named_in_param(client: httpx.AsyncClient, ada: Account,
                                                 body: dict[str, object], param: str) -> None:
    response = await client.post("/v1/projects", headers=ada.headers, json=body)
    error = error_of(response, 400)
    assert error["param"] is not None and error["param"].startswith(param), error
    assert error["code"] in {"invalid_request", "invalid_value"}
    exact_envelope(response)


async def test_unknown_field_is_refused(client: httpx.AsyncClient, ada: Account) -> None:
    response = await client.post("/v1/projects", headers=ada.headers,
                                 json={"name": "ok", "colour": "blue"})
    error = error_of(response, 400)
    assert error["param"] == "colour"
    listed = await client.get("/v1/projects", headers=ada.headers)
    assert listed.json()["data"] == []


async def test_domain_rule_violations_name_the_field(client: httpx.AsyncClient,
                                                     ada: Account) -> None:
    response = await client.post("/v1/projects", headers=ada.headers, json={"name": ""})
    assert error_of(response, 400)["param"] == "name"


async def test_oversized_body_is_request_too_large(client: httpx.AsyncClient,
                                                   ada: Account) -> None:
    big = {"name": "big", "description": "x" * (MAX_BODY_BYTES * 2)}
    response = await client.post("/v1/projects", headers=ada.headers, json=big)
    error = error_of(response, 413, "request_too_large")
    assert exact_envelope(response) == error
    # Proxied auth routes have the same limit.
    register = await client.post("/v1/auth/register", json={
        "email": "big@example.com", "password": "x" * (MAX_BODY_BYTES * 2)})
    error_of(register, 413, "request_too_large")


async def test_bad_headers_name_the_header(client: httpx.AsyncClient, ada: Account) -> None:
    bad_if_match = await client.put("/v1/projects/proj_0123456789abcdef0123456789abcdef",
                                    headers={**ada.headers, "If-Match": "yesterday"},
                                    json={"description": "x"})
    assert error_of(bad_if_match, 400)["param"] == "If-Match"
    long_key = await client.post("/v1/projects", json={"name": "k"},
                                 headers={**ada.headers, "Idempotency-Key": "k" * 256})
    assert error_of(long_key, 400)["param"] == "Idempotency-Key"


@pytest.mark.parametrize("limit", ["0", "101", "many"])
async def test_out_of_range_query_parameter_names_it(client: httpx.AsyncClient, ada: Account,
                                                     limit: str) -> None:
    response = await client.get("/v1/projects", headers=ada.headers, params={"limit": limit})
    assert error_of(response, 400)["param"] == "limit"


async def test_missing_query_parameter_is_named(client: httpx.AsyncClient,
                                                ada: Account) -> None:
    response = await client.delete("/v1/orgs/current", headers=ada.headers)
    error = error_of(response, 400)
    assert error["param"] == "confirm"
    assert "body" not in error["message"]


# -- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
])
async def test_missing_or_bad_token_is_401(client: httpx.AsyncClient,
                                           authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for response in (await client.get("/v1/projects", headers=headers),
                     await client.get("/v1/orgs/current", headers=headers),
                     await client.post("/v1/projects", headers=headers, json={"name": "x"})):
        error = error_of(response, 401)
        assert error["type"] == "authentication_error"
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        exact_envelope(response)


async def test_a_token_signed_by_someone_else_is_401(client: httpx.AsyncClient,
                                                     ada: Account) -> None:
    header, payload, signature = ada.access_token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = await client.get("/v1/projects", headers={"Authorization": f"Bearer {forged}"})
    error_of(response, 401)


# -- crashes ---------------------------------------------------------------------------------


async def test_unhandled_exception_is_internal_error_without_details(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/_test/explode", headers={"X-Request-ID": "crash-42"})
    error = error_of(response, 500, "internal_error")
    assert exact_envelope(response) == error
    assert error["type"] == "server_error"
    assert "crash-42" in error["message"] and error["request_id"] == "crash-42"
    for leak in ("secret detail", "Traceback", "RuntimeError", "explode", ".py"):
        assert leak not in response.text


async def test_a_server_side_http_exception_is_internal_error_without_details(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/_test/misconfigured")
    error = error_of(response, 500, "internal_error")
    assert "secret detail" not in response.text
    assert error["request_id"] in error["message"]


# -- request ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/nowhere"),
    ("DELETE", "/health"), ("GET", "/v1/projects"), ("POST", "/v1/auth/login"),
    ("GET", "/v1/_test/explode"),
])
async def test_every_response_has_a_request_id(client: httpx.AsyncClient, method: str,
                                               path: str) -> None:
    generated = await client.request(method, path)
    assert generated.headers["x-request-id"].startswith("req_")
    echoed = await client.request(method, path, headers={"X-Request-ID": "abc.DEF-123:x_y"})
    assert echoed.headers["x-request-id"] == "abc.DEF-123:x_y"
    if echoed.status_code >= 400:
        assert echoed.json()["error"]["request_id"] == "abc.DEF-123:x_y"


@pytest.mark.parametrize("supplied", ["has spaces", "x" * 129, "semi;colon", "<script>"])
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient,
                                                  supplied: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": supplied})
    assert response.headers["x-request-id"].startswith("req_")


async def test_request_ids_differ_per_request(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_proxied_auth_errors_keep_the_envelope_and_request_id(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/login", headers={"X-Request-ID": "login-1"},
                                 json={"email": "nobody@example.com", "password": "wrong-pass"})
    error = error_of(response, 401)
    assert response.headers["x-request-id"] == "login-1"
    assert error["request_id"] == "login-1"
    missing = await client.post("/v1/auth/login", json={"email": "nobody@example.com"})
    assert error_of(missing, 400)["param"] == "password"
    malformed = await client.post("/v1/auth/register", content=b"{",
                                  headers={"Content-Type": "application/json"})
    error_of(malformed, 400, "invalid_json")
