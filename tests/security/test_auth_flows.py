"""Attacks on sign-in, MFA and email verification (reference §4 cases 15-29)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from tests.e2e.conftest import in_process, sign_up
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
    return Settings(data_dir=tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return past_clock()


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with auth_client(settings, clock) as client:
        yield client


async def mfa_user(client: httpx.AsyncClient, clock: FakeClock) -> object:
    await register(client)
    totp, _ = await enable_mfa(client, clock, (await login(client)).json()["access_token"])
    return totp


async def verify_login(client: httpx.AsyncClient, challenge: str, code: str) -> httpx.Response:
    return await client.post("/v1/auth/mfa/verify-login",
                             json={"mfa_token": challenge, "code": code})


# -- MFA ---------------------------------------------------------------------------------------


async def test_totp_code_is_refused_when_replayed_on_a_new_challenge(
        client: httpx.AsyncClient, clock: FakeClock) -> None:
    totp = await mfa_user(client, clock)
    code = totp.at(clock.now)  # type: ignore[attr-defined]
    assert (await verify_login(client, await mfa_challenge(client), code)).status_code == 200
    replay = await verify_login(client, await mfa_challenge(client), code)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_mfa_code"


async def test_enrolment_code_cannot_be_replayed_as_the_first_login_code(
        client: httpx.AsyncClient, clock: FakeClock) -> None:
    await register(client)
    access = (await login(client)).json()["access_token"]
    enrolled = (await client.post("/v1/auth/mfa/enroll", headers=bearer(access))).json()
    import pyotp

    code = pyotp.TOTP(enrolled["secret"]).at(clock.now)
    assert (await client.post("/v1/auth/mfa/verify", headers=bearer(access),
                              json={"code": code})).status_code == 200
    assert (await verify_login(client, await mfa_challenge(client), code)).status_code == 401


async def test_mfa_challenge_works_once(client: httpx.AsyncClient, clock: FakeClock) -> None:
    totp = await mfa_user(client, clock)
    challenge = await mfa_challenge(client)
    assert (await verify_login(client, challenge, totp.at(clock.now))).status_code == 200  # type: ignore[attr-defined]
    clock.advance(30)
    reuse = await verify_login(client, challenge, totp.at(clock.now))  # type: ignore[attr-defined]
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "invalid_mfa_token"


async def test_mfa_challenge_allows_five_attempts_then_refuses_the_right_code(
        client: httpx.AsyncClient, clock: FakeClock) -> None:
    totp = await mfa_user(client, clock)
    challenge = await mfa_challenge(client)
    for _ in range(5):
        wrong = await verify_login(client, challenge, "000000")
        assert wrong.json()["error"]["code"] == "invalid_mfa_code"
    burned = await verify_login(client, challenge, totp.at(clock.now))  # type: ignore[attr-defined]
    assert burned.status_code == 401 and burned.json()["error"]["code"] == "invalid_mfa_token"


async def test_mfa_challenge_expires_after_five_minutes(client: httpx.AsyncClient,
                                                        clock: FakeClock) -> None:
    totp = await mfa_user(client, clock)
    challenge = await mfa_challenge(client)
    clock.advance(300)
    late = await verify_login(client, challenge, totp.at(clock.now))  # type: ignore[attr-defined]
    assert late.status_code == 401 and late.json()["error"]["code"] == "invalid_mfa_token"


async def test_password_alone_never_yields_tokens_with_mfa_on(client: httpx.AsyncClient,
                                                              clock: FakeClock) -> None:
    await mfa_user(client, clock)
    body = (await login(client)).json()
    assert body["mfa_required"] is True
    assert "access_token" not in body and "refresh_token" not in body
    as_access = await client.post("/v1/auth/logout", headers=bearer(body["mfa_token"]))
    assert as_access.status_code == 401


async def test_mfa_disable_without_the_password_is_refused(client: httpx.AsyncClient,
                                                           clock: FakeClock) -> None:
    totp = await mfa_user(client, clock)
    challenge = await mfa_challenge(client)
    access = (await verify_login(client, challenge, totp.at(clock.now))).json()["access_token"]  # type: ignore[attr-defined]
    clock.advance(30)
    missing = await client.post("/v1/auth/mfa/disable", headers=bearer(access),
                                json={"code": totp.at(clock.now)})  # type: ignore[attr-defined]
    assert missing.status_code == 400
    wrong = await client.post("/v1/auth/mfa/disable", headers=bearer(access),
                              json={"password": "not the password",
                                    "code": totp.at(clock.now)})  # type: ignore[attr-defined]
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "reauthentication_required"
    assert (await login(client)).json()["mfa_required"] is True  # still on
    no_token = await client.post("/v1/auth/mfa/disable",
                                 json={"password": PASSWORD, "code": totp.at(clock.now)})  # type: ignore[attr-defined]
    assert no_token.status_code == 401


async def test_mfa_challenge_token_is_not_an_access_token_on_the_control_plane(
        sqlite_settings: Settings) -> None:
    async with in_process(sqlite_settings, workers=True) as (_, client):
        account = await sign_up(client, "mfa")
        enrolled = (await client.post("/v1/auth/mfa/enroll", headers=account.headers)).json()
        import pyotp

        totp = pyotp.TOTP(enrolled["secret"])
        activated = await client.post("/v1/auth/mfa/verify", headers=account.headers,
                                      json={"code": totp.now()})
        assert activated.status_code == 200, activated.text
        challenge = (await client.post("/v1/auth/login", json={
            "email": account.email, "password": "correct horse battery staple"})).json()
        assert challenge["mfa_required"] is True
        response = await client.get("/v1/projects", headers=bearer(challenge["mfa_token"]))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"


# -- brute force and enumeration ---------------------------------------------------------------


async def test_failed_logins_per_account_hit_429_with_retry_after(
        client: httpx.AsyncClient) -> None:
    await register(client)
    for i in range(10):
        response = await login(client, password=f"wrong password {i}",
                               headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert response.status_code == 401
    limited = await login(client)  # even the right password waits out the window
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert 0 < int(limited.headers["retry-after"]) <= 900


async def test_failed_logins_per_ip_hit_429_across_accounts(client: httpx.AsyncClient) -> None:
    for i in range(30):
        response = await login(client, email=f"user{i}@example.com")
        assert response.status_code == 401
    limited = await login(client, email="someone-else@example.com")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


async def test_forwarded_for_is_ignored_from_untrusted_peers(settings: Settings,
                                                             clock: FakeClock) -> None:
    async with auth_client(settings, clock, client_ip="198.51.100.7") as client:
        for i in range(30):
            response = await login(client, email=f"u{i}@example.com",
                                   headers={"X-Forwarded-For": f"192.0.2.{i}"})
            assert response.status_code == 401
        limited = await login(client, email="v@example.com",
                              headers={"X-Forwarded-For": "192.0.2.200"})
        assert limited.status_code == 429


async def test_unknown_email_and_wrong_password_answer_identically(
        client: httpx.AsyncClient) -> None:
    await register(client)
    unknown = await login(client, email="nobody@example.com", password="wrong password")
    wrong = await login(client, password="wrong password")
    assert unknown.status_code == wrong.status_code == 401
    strip = ("request_id",)
    assert ({k: v for k, v in unknown.json()["error"].items() if k not in strip}
            == {k: v for k, v in wrong.json()["error"].items() if k not in strip})


# -- email verification --------------------------------------------------------------------


async def test_verification_token_reuse_expiry_and_unknown_fail_alike(
        client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    await register(client)
    await register(client, "bob@example.com")
    ada_link, bob_link = outbox_links(settings.data_dir)
    errors = []
    first = await client.get("/v1/auth/verify", params={"token": token_of(ada_link)})
    assert first.status_code == 200
    errors.append(await client.get("/v1/auth/verify", params={"token": token_of(ada_link)}))
    errors.append(await client.get("/v1/auth/verify", params={"token": "A" * 43}))
    errors.append(await client.get("/v1/auth/verify"))
    clock.advance(24 * 3600)
    errors.append(await client.get("/v1/auth/verify", params={"token": token_of(bob_link)}))
    for response in errors:
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_token"
        assert response.json()["error"]["message"] == errors[0].json()["error"]["message"]
