"""Provider login end to end: control plane (embedded auth app) ⇄ a local OIDC issuer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pyotp
import pytest

from domain.identity.external_identity import external_identity_id
from tests.support import oauth as harness
from tests.support.oauth import (
    APP_URL,
    PUBLIC_URL,
    control_plane,
    error_code,
    fragment_tokens,
    oauth_settings,
)
from tests.support.oidc_issuer import CLIENT_ID, OidcIssuer

# The harness's fixtures, used here by name.
anyio_backend = harness.anyio_backend
issuer_server = harness.issuer_server
issuer = harness.issuer

pytestmark = pytest.mark.anyio


async def test_first_login_creates_user_and_org_second_login_same_user(
        tmp_path: Path, issuer: OidcIssuer) -> None:
    async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
        started = await browser.start("mock", redirect_to=APP_URL)
        assert started.status_code == 302
        location = urlsplit(started.headers["location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{issuer.url}/authorize"
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        assert query["scope"] == "openid email profile"
        assert query["redirect_uri"] == f"{PUBLIC_URL}/v1/auth/callback/mock"
        assert query["code_challenge_method"] == "S256"
        assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43  # 256 bits, base64url
        cookie = started.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=600" in cookie
        assert "path=/v1/auth/callback/mock" in cookie

        first = await browser.callback(await browser.authorize(started))
        tokens = fragment_tokens(first)
        assert set(tokens) == {"access_token", "refresh_token", "expires_in", "token_type"}
        # No waiting here: the proxy answered once the new user's organization was projected.
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        org = await browser.client.get("/v1/orgs/current", headers=headers)
        assert org.status_code == 200, org.text
        assert org.json()["name"] == "Alice's organization"

        second = await browser.login("mock")  # no redirect_to: the pair as JSON
        assert second.status_code == 200, second.text
        assert "bitstride-log-position" not in second.headers
        again = {"Authorization": f"Bearer {second.json()['access_token']}"}
        org_again = await browser.client.get("/v1/orgs/current", headers=again)
        assert org_again.json()["id"] == org.json()["id"]

        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        assert claims["amr"] == ["fed"] and claims["aal"] == 1

        refreshed = await browser.client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text


async def test_github_login_uses_numeric_id_and_primary_verified_email(
        tmp_path: Path, issuer: OidcIssuer) -> None:
    async with control_plane(oauth_settings(tmp_path, issuer)) as (plane, browser):
        started = await browser.start("github")
        query = parse_qs(urlsplit(started.headers["location"]).query)
        assert query["scope"] == ["read:user user:email"]
        first = await browser.login("github")
        assert first.status_code == 200, first.text
        assert plane.identity is not None
        link = plane.identity.get_or_none(external_identity_id("github", "4242"))
        assert link is not None
        user = plane.identity.user(link.user_id)
        assert user.email == "alice@example.com"
        assert user.email_verified and not user.has_password
        second = await browser.login("github")
        assert second.status_code == 200


async def test_provider_user_cannot_log_in_with_a_password(
        tmp_path: Path, issuer: OidcIssuer) -> None:
    async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
        assert (await browser.login("mock")).status_code == 200
        for password in ("", "x" * 12):
            response = await browser.client.post("/v1/auth/login", json={
                "email": "alice@example.com", "password": password})
            assert response.status_code == 401, response.text
            assert error_code(response) == "invalid_credentials"
        taken = await browser.client.post("/v1/auth/register", json={
            "email": "alice@example.com", "password": "a fine long password"})
        assert taken.status_code == 409
        assert error_code(taken) == "email_taken"


async def test_unverified_provider_email_creates_no_user(
        tmp_path: Path, issuer: OidcIssuer) -> None:
    issuer.state.user.email_verified = False
    async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
        response = await browser.login("mock")
        assert response.status_code == 400
        assert error_code(response) == "email_not_verified"


async def test_map_form_of_oauth_providers(tmp_path: Path, issuer: OidcIssuer) -> None:
    config = issuer.provider_config("corp")
    del config["name"]
    settings = oauth_settings(tmp_path, issuer, oauth_providers=json.dumps({"corp": config}))
    async with control_plane(settings) as (_, browser):
        assert (await browser.login("corp")).status_code == 200
        missing = await browser.start("mock")
        assert missing.status_code == 404


@pytest.mark.redis
async def test_pending_flows_in_redis(tmp_path: Path, issuer: OidcIssuer, redis_url: str) -> None:
    settings = oauth_settings(tmp_path, issuer, redis_url=redis_url)
    async with control_plane(settings) as (_, browser):
        url = await browser.authorize(await browser.start("mock"))
        assert (await browser.callback(url)).status_code == 200
        assert error_code(await browser.callback(url)) == "invalid_state"  # GETDEL: once


async def test_an_active_second_factor_is_still_required(tmp_path: Path,
                                                         issuer: OidcIssuer) -> None:
    async with control_plane(oauth_settings(tmp_path, issuer)) as (_, browser):
        tokens = (await browser.login("mock")).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        enrollment = await browser.client.post("/v1/auth/mfa/enroll", headers=auth)
        assert enrollment.status_code == 200, enrollment.text
        totp = pyotp.TOTP(enrollment.json()["secret"])
        activated = await browser.client.post("/v1/auth/mfa/verify", headers=auth,
                                              json={"code": totp.now()})
        assert activated.status_code == 200, activated.text

        challenged = fragment_tokens(await browser.login("mock", redirect_to=APP_URL))
        assert "access_token" not in challenged
        assert challenged["mfa_required"] == "true"
        as_json = (await browser.login("mock")).json()
        assert "access_token" not in as_json and as_json["mfa_required"] is True

        verified = await browser.client.post("/v1/auth/mfa/verify-login", json={
            "mfa_token": challenged["mfa_token"], "code": totp.at(time.time() + 30)})
        assert verified.status_code == 200, verified.text
        claims = jwt.decode(verified.json()["access_token"], options={"verify_signature": False})
        assert claims["aal"] == 2
