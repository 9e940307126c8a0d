"""The auth service over HTTP (SQLite event store, real argon2id), and the token verifier."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from litestar.testing import TestClient

from domain.shared.ids import format_id, parse_id
from domain.tenancy.ids import personal_organization_id
from infra.auth.revocations import InMemorySessionRevocations, RedisSessionRevocations
from infra.auth.signing import Ed25519Signer
from infra.auth.tokens import AccessClaims, AccessTokenVerifier, InvalidTokenError
from infra.settings import Settings
from interfaces.http.auth_service.app import create_auth_app

INTERNAL_TOKEN = "internal-" + "k" * 32
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, auth_internal_token=INTERNAL_TOKEN)


@pytest.fixture
def revocations() -> InMemorySessionRevocations:
    return InMemorySessionRevocations()


@pytest.fixture
def client(settings: Settings, revocations: InMemorySessionRevocations) -> Iterator[TestClient]:
    with TestClient(create_auth_app(settings, revocations=revocations)) as test_client:
        yield test_client


def register(client: TestClient, email: str = "ada@example.com") -> dict[str, Any]:
    response = client.post("/v1/auth/register",
                           json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str = "ada@example.com") -> dict[str, Any]:
    response = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def verify_with_jwks(client: TestClient, token: str, settings: Settings) -> dict[str, Any]:
    jwks = client.get("/v1/auth/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["EdDSA"], audience=settings.auth_audience,
                      issuer=settings.auth_issuer)


class TestFlows:
    def test_register_login_refresh_reuse_logout(self, client: TestClient,
                                                 settings: Settings) -> None:
        response = client.post("/v1/auth/register", json={
            "email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"})
        assert response.status_code == 201
        user = response.json()
        user_id = parse_id("user", user["id"])
        assert user["object"] == "user" and user["email"] == "ada@example.com"
        assert user["organization_id"] == format_id("org", personal_organization_id(user_id))
        assert abs(user["created_at"] - time.time()) < 60
        assert int(response.headers["Bitstride-Log-Position"]) >= 1
        assert response.headers["X-Request-ID"]

        tokens = login(client)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == settings.access_token_ttl_seconds
        claims = verify_with_jwks(client, tokens["access_token"], settings)
        assert claims["sub"] == user["id"] and claims["org"] == user["organization_id"]
        assert claims["typ"] == "access" and claims["sid"].startswith("sess_")

        refreshed = client.post("/v1/auth/refresh",
                                json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        rotated = refreshed.json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert verify_with_jwks(client, rotated["access_token"], settings)["sid"] == claims["sid"]

        reused = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert (reused.status_code, error_code(reused)) == (401, "refresh_token_reused")
        after = client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert (after.status_code, error_code(after)) == (401, "invalid_refresh_token")
        revoked = client.post("/v1/auth/logout",
                              headers={"Authorization": f"Bearer {rotated['access_token']}"})
        assert (revoked.status_code, error_code(revoked)) == (401, "session_revoked")

        fresh = login(client)
        out = client.post("/v1/auth/logout",
                          headers={"Authorization": f"Bearer {fresh['access_token']}"})
        assert out.status_code == 200
        assert out.json() == {"object": "session.revoked", "revoked": True}
        gone = client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert error_code(gone) == "invalid_refresh_token"

    def test_invalid_credentials_are_identical_for_unknown_email_and_wrong_password(
            self, client: TestClient) -> None:
        register(client)
        unknown = client.post("/v1/auth/login",
                              json={"email": "nobody@example.com", "password": PASSWORD})
        wrong = client.post("/v1/auth/login",
                            json={"email": "ada@example.com", "password": "not the password"})
        assert unknown.status_code == wrong.status_code == 401
        strip = [{k: v for k, v in r.json()["error"].items() if k != "request_id"}
                 for r in (unknown, wrong)]
        assert strip[0] == strip[1]
        assert strip[0]["code"] == "invalid_credentials"

    @pytest.mark.parametrize(("length", "status"), [(7, 400), (8, 201), (1024, 201),
                                                    (1025, 400)])
    def test_password_length_bounds(self, client: TestClient, length: int, status: int) -> None:
        response = client.post("/v1/auth/register", json={
            "email": f"len{length}@example.com", "password": "p" * length, "name": "L"})
        assert response.status_code == status
        if status == 400:
            assert response.json()["error"]["code"] == "invalid_value"
            assert response.json()["error"]["param"] == "password"
            assert "p" * length not in response.text

    def test_duplicate_email_is_409(self, client: TestClient) -> None:
        register(client)
        again = client.post("/v1/auth/register", json={
            "email": "ADA@example.com", "password": PASSWORD, "name": "Other"})
        assert (again.status_code, error_code(again)) == (409, "email_taken")

    @pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not-a-jwt"])
    def test_logout_requires_a_valid_access_token(self, client: TestClient,
                                                  header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = client.post("/v1/auth/logout", headers=headers)
        assert response.status_code == 401
        assert error_code(response) in {"missing_token", "invalid_token"}

    def test_health_schema_and_unknown_routes(self, client: TestClient) -> None:
        assert client.get("/health").json() == {"status": "ok"}
        schema = client.get("/schema/openapi.json").json()
        assert "401" in schema["paths"]["/v1/auth/login"]["post"]["responses"]
        assert error_code(client.get("/v1/nope")) == "not_found"


class TestInternalClose:
    def close(self, client: TestClient, org_id: str, token: str | None) -> Any:
        headers = {"X-Internal-Token": token} if token is not None else {}
        return client.post(f"/internal/organizations/{org_id}/close", headers=headers)

    def test_requires_the_internal_token(self, client: TestClient) -> None:
        org_id = format_id("org", uuid.uuid4())
        for token in (None, "", "wrong", INTERNAL_TOKEN + "x"):
            response = self.close(client, org_id, token)
            assert (response.status_code, error_code(response)) == (401, "unauthorized")

    def test_refuses_everything_when_no_token_is_configured(self, tmp_path: Path) -> None:
        app = create_auth_app(Settings(data_dir=tmp_path),
                              revocations=InMemorySessionRevocations())
        with TestClient(app) as client:
            response = self.close(client, format_id("org", uuid.uuid4()), "")
            assert response.status_code == 401

    def test_closes_the_org_revoking_sessions_idempotently(self, client: TestClient) -> None:
        user = register(client)
        tokens = login(client)
        first = self.close(client, user["organization_id"], INTERNAL_TOKEN)
        assert first.status_code == 200
        assert first.json()["revoked_sessions"] == 1 and first.json()["closed"] is True
        assert self.close(client, user["organization_id"], INTERNAL_TOKEN).status_code == 200

        denied = client.post("/v1/auth/login", json={"email": user["email"],
                                                     "password": PASSWORD})
        assert (denied.status_code, error_code(denied)) == (403, "organization_deleted")
        refused = client.post("/v1/auth/refresh",
                              json={"refresh_token": tokens["refresh_token"]})
        assert (refused.status_code, error_code(refused)) == (403, "organization_deleted")
        logout = client.post("/v1/auth/logout",
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert error_code(logout) == "session_revoked"

    def test_malformed_org_id_is_404(self, client: TestClient) -> None:
        response = self.close(client, "proj_123", INTERNAL_TOKEN)
        assert (response.status_code, error_code(response)) == (404, "not_found")


def test_signing_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "key.pem"
    first = Ed25519Signer.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = Ed25519Signer.load_or_create(path)
    assert first.kid == second.kid
    jwk = first.jwks()["keys"][0]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"}
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]},
                           separators=(",", ":"), sort_keys=True).encode()
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    assert jwk["kid"] == thumbprint.decode()


# -- AccessTokenVerifier ------------------------------------------------------------------------

ISSUER, AUDIENCE = "bitstride-auth", "bitstride-api"


class JwksSource:
    """Counts fetches; serves whichever signers are currently published."""

    def __init__(self, *signers: Ed25519Signer) -> None:
        self.signers = list(signers)
        self.fetches = 0

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [s.jwks()["keys"][0] for s in self.signers]}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": format_id("user", uuid.uuid4()),
            "org": format_id("org", uuid.uuid4()), "sid": format_id("sess", uuid.uuid4()),
            "typ": "access", "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_verifier(source: JwksSource, revocations: InMemorySessionRevocations | None = None,
                  clock: Clock | None = None) -> AccessTokenVerifier:
    return AccessTokenVerifier(source, issuer=ISSUER, audience=AUDIENCE,
                               revocations=revocations or InMemorySessionRevocations(),
                               clock=clock or Clock())


def rejects(verifier: AccessTokenVerifier, token: str, code: str = "invalid_token") -> None:
    with pytest.raises(InvalidTokenError) as info:
        asyncio.run(verifier.verify(token))
    assert info.value.code == code


class TestAccessTokenVerifier:
    def test_accepts_a_good_token(self) -> None:
        signer = Ed25519Signer.generate()
        good = claims()
        result = asyncio.run(make_verifier(JwksSource(signer)).verify(signer.sign(good)))
        assert result == AccessClaims(user_id=parse_id("user", good["sub"]),
                                      org_id=parse_id("org", good["org"]),
                                      session_id=good["sid"], expires_at=good["exp"])

    def test_rejects_hs256_signed_with_the_public_key(self) -> None:
        signer = Ed25519Signer.generate()
        public = signer.jwks()["keys"][0]
        header = {"alg": "HS256", "typ": "JWT", "kid": signer.kid}

        def b64(data: bytes) -> bytes:
            return base64.urlsafe_b64encode(data).rstrip(b"=")

        for secret in (public["x"].encode(), json.dumps(public).encode()):
            signing_input = b64(json.dumps(header).encode()) + b"." + b64(
                json.dumps(claims()).encode())
            mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
            rejects(make_verifier(JwksSource(signer)), (signing_input + b"." + b64(mac)).decode())

    @pytest.mark.parametrize("bad", [{"iss": "someone-else"}, {"aud": "other-api"},
                                     {"typ": "refresh"}, {"typ": None}, {"sid": None},
                                     {"exp": int(time.time()) - 31},
                                     {"sub": "proj_" + "0" * 32}])
    def test_rejects_wrong_or_missing_claims(self, bad: dict[str, Any]) -> None:
        signer = Ed25519Signer.generate()
        rejects(make_verifier(JwksSource(signer)), signer.sign(claims(**bad)))

    def test_accepts_within_the_leeway(self) -> None:
        signer = Ed25519Signer.generate()
        token = signer.sign(claims(exp=int(time.time()) - 10))
        assert asyncio.run(make_verifier(JwksSource(signer)).verify(token))

    def test_rejects_a_revoked_session(self) -> None:
        signer = Ed25519Signer.generate()
        revocations = InMemorySessionRevocations()
        good = claims()
        revocations.revoke(good["sid"], 600)
        rejects(make_verifier(JwksSource(signer), revocations), signer.sign(good),
                "session_revoked")

    def test_unknown_kid_triggers_one_refetch_per_interval(self) -> None:
        old, new = Ed25519Signer.generate(), Ed25519Signer.generate()
        source, clock = JwksSource(old), Clock()
        verifier = make_verifier(source, clock=clock)

        async def scenario() -> None:
            await verifier.verify(old.sign(claims()))
            assert source.fetches == 1
            await verifier.verify(old.sign(claims()))
            assert source.fetches == 1  # cached
            source.signers.append(new)  # key rotation: the new key is published
            clock.now = 31.0
            await verifier.verify(new.sign(claims()))
            assert source.fetches == 2
            stranger = Ed25519Signer.generate()
            for _ in range(5):
                with pytest.raises(InvalidTokenError):
                    await verifier.verify(stranger.sign(claims()))
            assert source.fetches == 2  # within 30 s of the last fetch: no hammering
            clock.now = 62.0
            with pytest.raises(InvalidTokenError):
                await verifier.verify(stranger.sign(claims()))
            assert source.fetches == 3

        asyncio.run(scenario())

    def test_rejects_garbage_and_alg_none(self) -> None:
        signer = Ed25519Signer.generate()
        verifier = make_verifier(JwksSource(signer))
        rejects(verifier, "garbage")
        unsigned = jwt.encode(claims(), key=None, algorithm="none", headers={"kid": signer.kid})
        rejects(verifier, unsigned)


@pytest.mark.redis
def test_redis_session_revocations(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:revoked-session:"
    revocations = RedisSessionRevocations(client, key_prefix=prefix)
    sid = format_id("sess", uuid.uuid4())
    try:
        assert not revocations.is_revoked(sid)
        revocations.revoke(sid, 600)
        assert revocations.is_revoked(sid)
        assert 590 <= client.ttl(prefix + sid) <= 600
        assert RedisSessionRevocations(client).is_revoked(sid) is False  # other prefix
    finally:
        client.delete(prefix + sid)
        client.close()
