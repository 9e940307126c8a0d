"""Local verification of access tokens against the auth service's JWKS (used by the control plane).

Only EdDSA is accepted, whatever the token header says, so a token "signed" with HS256 and the
public key as secret is refused (CVE-2022-29217 / GHSA-xgmm-8j9v-c9wx class of attacks).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
import structlog

from application.ports import SessionRevocations
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id

log = structlog.get_logger("bitstride.auth")

REQUIRED_CLAIMS = ("iss", "aud", "sub", "org", "sid", "typ", "iat", "exp", "jti")

JwksFetcher = Callable[[], Awaitable[Mapping[str, Any]]]


class InvalidTokenError(Exception):
    """The bearer token does not authenticate the caller; `code` is the error code (a 401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KeySetUnavailableError(Exception):
    """The JWKS could not be fetched, so an unknown `kid` cannot be judged (a 503, not a 401)."""


@dataclass(frozen=True)
class AccessClaims:
    """Who the verified token speaks for."""

    user_id: UUID
    org_id: UUID
    session_id: str
    expires_at: int


class AccessTokenVerifier:
    """Verifies signature, issuer, audience, expiry, type and revocation of access tokens."""

    def __init__(self, fetch_jwks: JwksFetcher, *, issuer: str, audience: str,
                 revocations: SessionRevocations, leeway_seconds: int = 30,
                 refetch_interval_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch_jwks = fetch_jwks
        self._issuer = issuer
        self._audience = audience
        self._revocations = revocations
        self._leeway = leeway_seconds
        self._refetch_interval = refetch_interval_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("invalid_token", "The access token is malformed.") from None
        kid = header.get("kid")
        if header.get("alg") != "EdDSA" or not isinstance(kid, str):
            raise InvalidTokenError("invalid_token", "The access token is not signed with EdDSA.")
        key = await self._key(kid)
        claims = self._decode(token, key)
        if claims.get("typ") != "access":
            raise InvalidTokenError("invalid_token", "The token is not an access token.")
        result = _access_claims(claims)
        if self._revocations.is_revoked(result.session_id):
            raise InvalidTokenError("session_revoked", "The session of this token has ended.")
        return result

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(token, key, algorithms=["EdDSA"], audience=self._audience,
                              issuer=self._issuer, leeway=self._leeway,
                              options={"require": list(REQUIRED_CLAIMS)})
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("invalid_token", "The access token has expired.") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("invalid_token", "The access token is invalid.") from None

    async def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if kid not in self._keys and self._may_refetch():
                await self._refetch()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidTokenError("invalid_token", "The access token's signing key is unknown.")
        return key

    async def prefetch(self) -> None:
        """Fetch the key set at start: tokens then verify even if the auth service is down
        when the first one arrives. Failing here only leaves the fetch to that first token."""
        async with self._lock:
            try:
                await self._refetch()
            except KeySetUnavailableError as error:
                self._fetched_at = None
                log.warning("jwks_prefetch_failed", error=str(error))

    def _may_refetch(self) -> bool:
        """An unknown kid refetches at most once per interval, so junk tokens cannot hammer."""
        return self._fetched_at is None or (
            self._clock() - self._fetched_at >= self._refetch_interval)

    async def _refetch(self) -> None:
        self._fetched_at = self._clock()
        try:
            jwks = await self._fetch_jwks()
        except Exception as exc:
            raise KeySetUnavailableError(f"cannot fetch the JWKS: {type(exc).__name__}") from exc
        self._keys = _ed25519_keys(jwks)


def _ed25519_keys(jwks: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in jwks.get("keys", []):
        if not isinstance(entry, Mapping):
            continue
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        if entry.get("alg", "EdDSA") != "EdDSA" or not isinstance(entry.get("kid"), str):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(dict(entry), algorithm="EdDSA")
        except jwt.PyJWTError:
            continue
    return keys


def _access_claims(claims: Mapping[str, Any]) -> AccessClaims:
    try:
        user_id = parse_id("user", str(claims["sub"]))
        org_id = parse_id("org", str(claims["org"]))
        parse_id("sess", str(claims["sid"]))
    except NotFoundError:
        raise InvalidTokenError("invalid_token", "The access token's claims are malformed.") \
            from None
    return AccessClaims(user_id=user_id, org_id=org_id, session_id=str(claims["sid"]),
                        expires_at=int(claims["exp"]))
