"""Email verification, MFA and throttling through the auth app (SQLite, argon2id, ASGI)."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from tests.integration.auth.factor_support import (
    PASSWORD,
    auth_client,
    bearer,
    enable_mfa,
    login,
    mfa_challenge,
    outbox_links,
    past_clock,
    register,
    token_of,
)
from tests.unit.identity.fakes import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, public_url="https://bitstride.example")


@pytest.fixture
def clock() -> FakeClock:
    return past_clock()


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with auth_client(settings, clock) as client:
        yield client


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "==="))
    return decoded


async def test_registration_mails_a_link_to_the_outbox_that_verifies_once(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await register(client)
    [link] = outbox_links(settings.data_dir)
    assert link.startswith("https://bitstride.example/v1/auth/verify?token=")
    first = await client.get("/v1/auth/verify", params={"token": token_of(link)})
    assert first.status_code == 200, first.text
    assert first.json() == {"already_verified": False, "verified": True,
                            "object": "email.verification"}
    again = await client.get("/v1/auth/verify", params={"token": token_of(link)})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"


async def test_resend_answers_202_for_known_and_unknown_addresses(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await register(client)
    known = await client.post("/v1/auth/verify/resend", json={"email": "ada@example.com"})
    unknown = await client.post("/v1/auth/verify/resend", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(outbox_links(settings.data_dir)) == 2  # registration + one resend


async def test_resend_is_rate_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        response = await client.post("/v1/auth/verify/resend", json={"email": "x@example.com"})
        assert response.status_code == 202
    limited = await client.post("/v1/auth/verify/resend", json={"email": "X@example.com"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0


async def test_required_verification_refuses_login_until_verified(
        tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(data_dir=tmp_path, require_verified_email=True)
    async with auth_client(settings, clock) as client:
        await register(client)
        refused = await login(client)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "email_not_verified"
        [link] = outbox_links(settings.data_dir)
        assert (await client.get("/v1/auth/verify",
                                 params={"token": token_of(link)})).status_code == 200
        assert (await login(client)).status_code == 200


async def test_mfa_end_to_end_enrol_login_refresh_disable(
        client: httpx.AsyncClient, clock: FakeClock, settings: Settings) -> None:
    await register(client)
    plain = (await login(client)).json()
    assert claims_of(plain["access_token"])["amr"] == ["pwd"]
    totp, codes = await enable_mfa(client, clock, plain["access_token"])
    assert len(codes) == 10

    challenge = await mfa_challenge(client)
    done = await client.post("/v1/auth/mfa/verify-login",
                             json={"mfa_token": challenge, "code": totp.at(clock.now)})
    assert done.status_code == 200, done.text
    pair = done.json()
    assert claims_of(pair["access_token"])["amr"] == ["pwd", "otp"]
    assert claims_of(pair["access_token"])["aal"] == 2
    refreshed = await client.post("/v1/auth/refresh",
                                  json={"refresh_token": pair["refresh_token"]})
    assert claims_of(refreshed.json()["access_token"])["aal"] == 2

    clock.advance(30)
    disabled = await client.post("/v1/auth/mfa/disable", headers=bearer(pair["access_token"]),
                                 json={"password": PASSWORD, "code": totp.at(clock.now)})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["ended_sessions"] == 1  # the plain login; this session stays
    old = await client.post("/v1/auth/logout", headers=bearer(plain["access_token"]))
    assert old.status_code == 401
    mine = await client.post("/v1/auth/logout",
                             headers=bearer(refreshed.json()["access_token"]))
    assert mine.status_code == 200
    again = (await login(client)).json()
    assert "access_token" in again


async def test_enrol_requires_an_access_token_and_twice_is_a_conflict(
        client: httpx.AsyncClient, clock: FakeClock) -> None:
    assert (await client.post("/v1/auth/mfa/enroll")).status_code == 401
    await register(client)
    access = (await login(client)).json()["access_token"]
    await enable_mfa(client, clock, access)
    again = await client.post("/v1/auth/mfa/enroll", headers=bearer(access))
    assert again.status_code == 409 and again.json()["error"]["code"] == "mfa_already_enabled"


async def test_verify_login_wants_exactly_one_code(client: httpx.AsyncClient,
                                                   clock: FakeClock) -> None:
    await register(client)
    await enable_mfa(client, clock, (await login(client)).json()["access_token"])
    challenge = await mfa_challenge(client)
    for body in ({"mfa_token": challenge}, {"mfa_token": challenge, "code": "123456",
                                            "recovery_code": "AAAA-BBBB-CCCC-DDDD"}):
        response = await client.post("/v1/auth/mfa/verify-login", json=body)
        assert response.status_code == 400


async def test_recovery_code_signs_in(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await register(client)
    _, codes = await enable_mfa(client, clock, (await login(client)).json()["access_token"])
    done = await client.post("/v1/auth/mfa/verify-login",
                             json={"mfa_token": await mfa_challenge(client),
                                   "recovery_code": codes[3]})
    assert done.status_code == 200, done.text


async def test_mfa_key_file_is_private_and_secrets_stay_out_of_the_store(
        client: httpx.AsyncClient, clock: FakeClock, settings: Settings) -> None:
    await register(client)
    access = (await login(client)).json()["access_token"]
    totp, codes = await enable_mfa(client, clock, access)
    key_file = settings.data_dir / "auth" / "mfa-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    store = settings.auth_sqlite_path.read_bytes()
    assert totp.secret.encode() not in store
    assert not any(code.encode() in store for code in codes)


async def test_refresh_is_rate_limited_per_session(client: httpx.AsyncClient) -> None:
    await register(client)
    token = (await login(client)).json()["refresh_token"]
    for _ in range(60):
        response = await client.post("/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200
        token = response.json()["refresh_token"]
    limited = await client.post("/v1/auth/refresh", json={"refresh_token": token})
    assert limited.status_code == 429 and "retry-after" in limited.headers
