"""Forged, stale and misused tokens against the control plane (issue 3 §6).

Every case sends the token to a real route of the in-process control plane (SQLite), whose
embedded auth service signs with the key file under the data directory: the test loads the
same key to forge tokens that carry a valid signature but a wrong claim.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from infra.auth.signing import Ed25519Signer
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, in_process, sign_up

pytestmark = pytest.mark.anyio
ROUTES = [("GET", "/v1/orgs/current"), ("GET", "/v1/projects"), ("POST", "/v1/projects"),
          ("GET", "/v1/datasets")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def world(sqlite_settings: Settings) -> AsyncIterator[tuple[ControlPlane, httpx.AsyncClient,
                                                                   Account, Ed25519Signer]]:
    async with in_process(sqlite_settings) as (plane, client):
        account = await sign_up(client, "victim")
        signer = Ed25519Signer.load_or_create(sqlite_settings.signing_key_path)
        yield plane, client, account, signer


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def refused(client: httpx.AsyncClient, token: str, code: str | None = None) -> None:
    for method, path in ROUTES:
        response = await client.request(method, path, json={"name": "x"},
                                        headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (method, path, response.text)
        if code is not None:
            assert response.json()["error"]["code"] == code


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


async def test_alg_none_is_refused(world: Any) -> None:
    _, client, account, signer = world
    token = unsigned(claims_of(account.access_token), {"alg": "none", "kid": signer.kid})
    await refused(client, token)


async def test_hs256_signed_with_the_public_key_is_refused(world: Any) -> None:
    _, client, account, signer = world
    public = signer.public_key.public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    header = {"alg": "HS256", "kid": signer.kid, "typ": "JWT"}
    body = unsigned(claims_of(account.access_token), header).rstrip(".")
    signature = base64.urlsafe_b64encode(
        hmac.new(public, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    await refused(client, f"{body}.{signature}")


async def test_an_unknown_kid_is_refused(world: Any) -> None:
    _, client, account, _ = world
    stranger = Ed25519Signer.generate()
    await refused(client, stranger.sign(claims_of(account.access_token)))


@pytest.mark.parametrize("change", [
    {"exp": int(time.time()) - 3600},                       # expired
    {"nbf": int(time.time()) + 3600},                       # not yet valid
    {"iat": int(time.time()) + 3600, "nbf": int(time.time()) + 3600},
    {"iss": "https://evil.example"},                        # wrong issuer
    {"aud": "another-api"},                                 # wrong audience
    {"typ": "refresh"},                                     # not an access token
    {"typ": "mfa_challenge"},
])
async def test_a_validly_signed_token_with_a_wrong_claim_is_refused(
        world: Any, change: dict[str, Any]) -> None:
    _, client, account, signer = world
    await refused(client, signer.sign({**claims_of(account.access_token), **change}))


async def test_a_refresh_token_is_not_an_access_token(world: Any) -> None:
    _, client, account, _ = world
    await refused(client, account.refresh_token)


async def test_another_organizations_token_sees_nothing_of_this_one(world: Any) -> None:
    _, client, victim, _ = world
    project = await create_project(client, victim, "Secret")
    attacker = await sign_up(client, "attacker")
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"/v1/projects/{project['id']}",
                                        json={"name": "pwned"}, headers=attacker.headers)
        assert response.status_code == 404, (method, response.text)
    listed = await client.get("/v1/projects", headers=attacker.headers)
    assert listed.json()["data"] == []


async def test_refresh_reuse_revokes_the_session_everywhere(world: Any) -> None:
    _, client, account, _ = world
    first = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200
    again = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert (again.status_code, again.json()["error"]["code"]) == (401, "refresh_token_reused")
    await refused(client, first.json()["access_token"], "session_revoked")
    rotated = await client.post("/v1/auth/refresh",
                                json={"refresh_token": first.json()["refresh_token"]})
    assert rotated.status_code == 401


async def test_a_token_is_refused_after_logout(world: Any) -> None:
    _, client, account, _ = world
    out = await client.post("/v1/auth/logout", headers=account.headers)
    assert out.status_code == 200
    await refused(client, account.access_token, "session_revoked")
    after = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert after.status_code == 401
