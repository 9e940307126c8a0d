"""Provider login under attack: state, nonce, code, ID token, redirects, account takeover."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from application.identity.redirects import redirect_allowed
from domain.identity.external_identity import external_identity_id
from interfaces.control_plane import ControlPlane
from tests.support import oauth as harness
from tests.support.oauth import (
    APP_URL,
    PASSWORD,
    callback_params,
    control_plane,
    error_code,
    oauth_settings,
)
from tests.support.oidc_issuer import OidcIssuer

# The harness's fixtures, used here by name.
anyio_backend = harness.anyio_backend
issuer_server = harness.issuer_server
issuer = harness.issuer


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert "location" not in response.headers


def no_identity(plane: ControlPlane, subject: str = "alice-subject") -> bool:
    assert plane.identity is not None
    return plane.identity.get_or_none(external_identity_id("mock", subject)) is None


class TestState:
    pytestmark = pytest.mark.anyio

    async def test_missing_state(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
            url = await browser.authorize(await browser.start())
            code = callback_params(url)["code"]
            response = await browser.client.get("/v1/auth/callback/mock", params={"code": code})
            assert_error(response, 400, "invalid_state")
            assert issuer.state.token_requests == 0
            assert no_identity(plane)

    async def test_wrong_state(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            url = await browser.authorize(await browser.start())
            code = callback_params(url)["code"]
            response = await browser.client.get("/v1/auth/callback/mock",
                                                params={"code": code, "state": "x" * 43})
            assert_error(response, 400, "invalid_state")
            # A wrong guess spends the flow: the right state no longer works either.
            assert_error(await browser.callback(url), 400, "invalid_state")
            assert issuer.state.token_requests == 0

    async def test_replayed_state(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            url = await browser.authorize(await browser.start())
            assert (await browser.callback(url)).status_code == 200
            assert_error(await browser.callback(url), 400, "invalid_state")
            assert issuer.state.token_requests == 1

    async def test_state_from_another_browser(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, victim):
            # The attacker starts a flow and gets the victim to open its callback (login CSRF).
            attacker = victim.fresh()
            url = await attacker.authorize(await attacker.start())
            assert_error(await victim.callback(url), 400, "invalid_state")  # no cookie
            await victim.authorize(await victim.start())  # the victim's own flow: other cookie
            assert_error(await victim.callback(url), 400, "invalid_state")
            assert issuer.state.token_requests == 0
            assert no_identity(plane)
            await attacker.client.aclose()

    async def test_flow_of_another_provider(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            url = await browser.authorize(await browser.start("mock"))
            params = callback_params(url)
            response = await browser.client.get("/v1/auth/callback/github", params=params)
            assert_error(response, 400, "invalid_state")

    async def test_expired_flow(self, tmp_path: Path, issuer: OidcIssuer,
                                monkeypatch: pytest.MonkeyPatch) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
            url = await browser.authorize(await browser.start())
            assert plane.identity is not None
            later = time.time() + 601
            monkeypatch.setattr(plane.identity, "clock", lambda: later)
            assert_error(await browser.callback(url), 400, "invalid_state")

    async def test_provider_error_is_not_a_login(self, tmp_path: Path,
                                                 issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            url = await browser.authorize(await browser.start())
            params = {"state": callback_params(url)["state"], "error": "access_denied"}
            response = await browser.client.get("/v1/auth/callback/mock", params=params)
            assert_error(response, 400, "provider_denied")


class TestCodeAndIdToken:
    pytestmark = pytest.mark.anyio

    async def test_replayed_code(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            first_url = await browser.authorize(await browser.start())
            assert (await browser.callback(first_url)).status_code == 200
            second_url = await browser.authorize(await browser.start())
            params = {"code": callback_params(first_url)["code"],
                      "state": callback_params(second_url)["state"]}
            response = await browser.client.get("/v1/auth/callback/mock", params=params)
            assert_error(response, 400, "provider_rejected")

    @pytest.mark.parametrize(("overrides", "signing"), [
        ({"nonce": "not-the-nonce-we-sent"}, "RS256"),
        ({"nonce": None}, "RS256"),
        ({"iss": "https://evil.example.com"}, "RS256"),
        ({"aud": "someone-else"}, "RS256"),
        ({"aud": ["someone-else", "bitstride-test-client"]}, "RS256"),  # no azp
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "RS256"),
        ({"iat": None}, "RS256"),
        ({}, "none"),
        ({}, "HS256-public-key"),
        ({}, "unknown-kid"),
        ({}, "wrong-key"),
    ], ids=["wrong-nonce", "no-nonce", "wrong-iss", "wrong-aud", "multi-aud-no-azp",
            "expired", "no-iat", "alg-none", "hs256-public-key", "unknown-kid", "wrong-key"])
    async def test_bad_id_token_is_refused(self, tmp_path: Path, issuer: OidcIssuer,
                                           overrides: dict[str, Any], signing: str) -> None:
        issuer.state.claim_overrides = overrides
        issuer.state.signing = signing
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
            assert_error(await browser.login(), 400, "invalid_id_token")
            assert no_identity(plane)


class TestRedirects:
    pytestmark = pytest.mark.anyio

    EVIL = [
        "https://evil.example.com/auth/done",
        "//evil.example.com/auth/done",
        "https://app.example.com.evil.com/auth/done",
        "https://app.example.com@evil.com/auth/done",
        "https://evil.com\\@app.example.com/auth/done",
        "https://app.example.com:8443/auth/done",
        "http://app.example.com/auth/done",
        "https://app.example.com/auth/donex",
        "https://app.example.com/auth/done/../../evil",
        "https://app.example.com/auth/done/%2e%2e/evil",
        "https://app.example.com/auth/done#frag",
        "javascript:alert(1)//app.example.com/auth/done",
        "/auth/done",
        "",
    ]

    @pytest.mark.parametrize("target", EVIL)
    def test_allowlist_refuses(self, target: str) -> None:
        assert not redirect_allowed(target, [APP_URL])

    @pytest.mark.parametrize("target", [
        APP_URL, "HTTPS://APP.example.com/auth/done", "https://app.example.com:443/auth/done",
        f"{APP_URL}/next", f"{APP_URL}?tab=2"])
    def test_allowlist_accepts(self, target: str) -> None:
        assert redirect_allowed(target, [APP_URL])

    async def test_open_redirect_is_a_400_never_a_redirect(self, tmp_path: Path,
                                                           issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            for target in ("https://evil.example.com/", "https://app.example.com@evil.com/"):
                response = await browser.start("mock", redirect_to=target)
                assert_error(response, 400, "redirect_not_allowed")
                assert "set-cookie" not in response.headers

    async def test_no_allowlist_means_no_redirects(self, tmp_path: Path,
                                                   issuer: OidcIssuer) -> None:
        settings = oauth_settings(tmp_path, issuer, login_redirect_urls=())
        async with control_plane(settings) as (_, browser):
            assert_error(await browser.start("mock", redirect_to=APP_URL), 400,
                         "redirect_not_allowed")


class TestAccounts:
    pytestmark = pytest.mark.anyio

    async def test_existing_password_account_is_not_taken_over(
            self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
            registered = await browser.client.post("/v1/auth/register", json={
                "email": "Alice@Example.com", "password": PASSWORD, "name": "Alice"})
            assert registered.status_code == 201, registered.text
            for _ in range(2):
                assert_error(await browser.login(redirect_to=APP_URL), 409, "account_exists")
            assert no_identity(plane)
            login = await browser.client.post("/v1/auth/login", json={
                "email": "alice@example.com", "password": PASSWORD})
            assert login.status_code == 200  # the owner's account is untouched

    async def test_unknown_provider_is_404(self, tmp_path: Path, issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
            for path in ("/v1/auth/login/nope", "/v1/auth/callback/nope?code=a&state=b"):
                response = await browser.client.get(path)
                assert_error(response, 404, "not_found")
                assert set(response.json()["error"]) >= {"code", "message", "type", "param"}

    async def test_no_secret_reaches_the_event_log(self, tmp_path: Path,
                                                   issuer: OidcIssuer) -> None:
        async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
            started = await browser.start()
            url = await browser.authorize(started)
            response = await browser.callback(url)
            assert response.status_code == 200
            params = callback_params(url)
            query = callback_params(started.headers["location"])
            secrets_seen = [params["code"], params["state"], query["nonce"],
                            response.json()["access_token"], response.json()["refresh_token"],
                            browser.client.cookies.get("bitstride_oauth_mock") or "x" * 40]
            assert plane.identity is not None
            stored = b"".join(n.state for n in plane.identity.recorder.select_notifications(
                start=1, limit=10_000))
            for secret in secrets_seen:
                assert secret.encode() not in stored
