"""OpenID Connect relying party: discovery, code exchange with PKCE, ID-token verification.

Implements application.identity.provider_login.IdentityProvider. The ID token must be signed
by a key of the provider's JWKS with an asymmetric algorithm the provider announces; `none`
and HS* are never accepted, so a token "signed" with a public key as HMAC secret fails. Issuer,
audience (our client_id), `azp`, `nonce`, `exp` and `iat` are checked (ASVS 5.0 V10.5).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog

from application.identity.provider_login import (
    ExternalProfile,
    InvalidIdTokenError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from infra.auth.provider_config import GOOGLE_ISSUER, ProviderConfig

log = structlog.get_logger("bitstride.auth.oidc")

HttpFactory = Callable[[], httpx.AsyncClient]
KTY_BY_ALG = {**dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "RSA"),
              **dict.fromkeys(("ES256", "ES384", "ES512"), "EC"), "EdDSA": "OKP"}
OIDC_SCOPE = "openid email profile"


def default_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)


def with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


async def fetch_json(http: HttpFactory, method: str, url: str, **kwargs: Any) -> Any:
    """A provider call; transport failures and non-JSON answers are 'unavailable'."""
    try:
        async with http() as client:
            response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise ProviderUnavailableError(f"{url}: {type(error).__name__}") from None
    if response.status_code in (400, 401):
        raise ProviderRejectedError
    if response.status_code >= 300:
        raise ProviderUnavailableError(f"{url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailableError(f"{url}: not JSON") from None


class OidcProvider:
    """One OIDC issuer; its metadata and keys are fetched lazily and cached."""

    def __init__(self, config: ProviderConfig, *, http: HttpFactory = default_http,
                 leeway_seconds: int = 60, jwks_refetch_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = config.name
        self._config = config
        self._http = http
        self._leeway = leeway_seconds
        self._refetch_interval = jwks_refetch_seconds
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._keys: list[dict[str, Any]] = []
        self._keys_fetched_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def _issuers(self) -> list[str]:
        issuer = str((self._metadata or {}).get("issuer"))
        # Google documents both spellings of its issuer in ID tokens.
        return [issuer, "accounts.google.com"] if issuer == GOOGLE_ISSUER else [issuer]

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_challenge: str) -> str:
        metadata = await self.metadata()
        return with_query(metadata["authorization_endpoint"], {
            "response_type": "code", "client_id": self._config.client_id,
            "redirect_uri": redirect_uri, "scope": OIDC_SCOPE, "state": state, "nonce": nonce,
            "code_challenge": code_challenge, "code_challenge_method": "S256"})

    async def profile(self, *, code: str, code_verifier: str, redirect_uri: str,
                      nonce: str) -> ExternalProfile:
        metadata = await self.metadata()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier, "client_id": self._config.client_id}
        auth: tuple[str, str] | None = (self._config.client_id, self._config.client_secret)
        methods = metadata.get("token_endpoint_auth_methods_supported") or []
        if "client_secret_basic" not in methods and "client_secret_post" in methods:
            data["client_secret"], auth = self._config.client_secret, None
        body = await fetch_json(self._http, "POST", metadata["token_endpoint"], data=data,
                                auth=auth, headers={"Accept": "application/json"})
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            log.warning("oidc_no_id_token", provider=self.name)
            raise InvalidIdTokenError
        claims = await self.verify_id_token(id_token, nonce)
        email = claims.get("email")
        return ExternalProfile(
            provider=self.name, subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") in (True, "true"),
            name=str(claims.get("name") or ""))

    async def verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise self._invalid("malformed") from None
        alg = header.get("alg")
        announced = (await self.metadata()).get("id_token_signing_alg_values_supported")
        if alg not in KTY_BY_ALG or alg not in (announced or ["RS256"]):
            raise self._invalid("algorithm")
        key = await self._key(header.get("kid"), str(alg))
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[str(alg)], audience=self._config.client_id,
                issuer=self._issuers, leeway=self._leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]})
        except jwt.PyJWTError as error:
            raise self._invalid(type(error).__name__) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._config.client_id:
            raise self._invalid("azp")
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
                claims["nonce"].encode(), nonce.encode()):
            raise self._invalid("nonce")
        return claims

    def _invalid(self, reason: str) -> InvalidIdTokenError:
        log.warning("oidc_id_token_rejected", provider=self.name, reason=reason)
        return InvalidIdTokenError()

    async def metadata(self) -> dict[str, Any]:
        """Discovery, cached; its `issuer` must equal the configured one (ASVS V10.5.3)."""
        if self._metadata is not None:
            return self._metadata
        async with self._lock:
            if self._metadata is None:
                self._metadata = await self._discover()
        return self._metadata

    async def _discover(self) -> dict[str, Any]:
        issuer = self._config.issuer
        url = self._config.discovery_url or (
            f"{str(issuer).rstrip('/')}/.well-known/openid-configuration")
        try:
            metadata = await fetch_json(self._http, "GET", url)
        except ProviderRejectedError:
            raise ProviderUnavailableError(f"{url}: rejected") from None
        required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(metadata, dict) or not all(
                isinstance(metadata.get(key), str) for key in required):
            raise ProviderUnavailableError(f"{url}: incomplete discovery document")
        if issuer is not None and metadata["issuer"] != issuer:
            raise ProviderUnavailableError(f"{url}: issuer does not match the configuration")
        return metadata

    async def _key(self, kid: Any, alg: str) -> jwt.PyJWK:
        key = self._select(kid, alg)
        if key is None:
            async with self._lock:
                if self._keys_fetched_at is None or (
                        self._clock() - self._keys_fetched_at >= self._refetch_interval):
                    await self._fetch_keys()
            key = self._select(kid, alg)
        if key is None:
            raise self._invalid("unknown_key")
        return key

    async def _fetch_keys(self) -> None:
        self._keys_fetched_at = self._clock()
        try:
            jwks = await fetch_json(self._http, "GET", (await self.metadata())["jwks_uri"])
        except ProviderRejectedError:
            raise ProviderUnavailableError("jwks_uri rejected") from None
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        self._keys = [k for k in keys or [] if isinstance(k, dict)]

    def _select(self, kid: Any, alg: str) -> jwt.PyJWK | None:
        """The key for `kid` (or the only candidate when the token names none) of `alg`'s type."""
        candidates = [k for k in self._keys
                      if k.get("kty") == KTY_BY_ALG[alg] and k.get("use", "sig") == "sig"
                      and k.get("alg", alg) == alg and (kid is None or k.get("kid") == kid)]
        if len(candidates) != 1:
            return None
        try:
            return jwt.PyJWK(candidates[0], algorithm=alg)
        except jwt.PyJWTError:
            return None
