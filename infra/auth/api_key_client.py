"""The control plane's side of API keys: introspection through the auth service, cached.

A string with the key prefix but a bad shape or checksum is refused here, with no call.
One introspection per key is in flight at a time: requests that miss meanwhile wait for it.
An entry in use past half its ttl is fetched again in the background. Before both, every
expiry (every 30 s) sent each request arriving during the introspection to introspect too:
at 200 requests a second about thirty at once, which the auth service answered in 100-140 ms
each, stalling every request of those moments (the gateway's p99 in `make bench`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
import structlog

from application.ports import SessionRevocations
from domain.identity.api_key_format import parse_key_id
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from infra.auth.api_key_cache import ApiKeyCache, ApiKeyGrant, key_digest
from infra.auth.tokens import AccessTokenVerifier, JwksFetcher

log = structlog.get_logger("bitstride.api_keys")

INTROSPECT_PATH = "/internal/api_keys/introspect"


class ApiKeyServiceUnavailableError(Exception):
    """The auth service could not judge the key (down, or misconfigured internal token)."""


class ApiKeyIntrospector:
    """Answers "what may this key do?" with at most one auth-service call per TTL."""

    def __init__(self, http: httpx.AsyncClient, internal_token: str | None,
                 cache: ApiKeyCache, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._http = http
        self._internal_token = internal_token
        self.cache = cache
        self._wall_clock = wall_clock
        self.calls = 0  # introspection requests sent (observable in tests)
        # Introspections in flight, by key digest and the cache generation they started at:
        # a request after a drop (a revocation) never joins a fetch that began before it.
        self._fetching: dict[tuple[str, int], asyncio.Task[ApiKeyGrant | None]] = {}

    async def grant(self, key: str) -> ApiKeyGrant | None:
        """The active key's grant, or None (malformed, unknown, revoked, expired).

        The cache is asked first: only well-formed keys are ever cached, and checking a key's
        shape and checksum cost more than the rest of a cached lookup."""
        digest = key_digest(key)
        hit, grant = self.cache.get(digest)
        if not hit:
            if parse_key_id(key) is None:
                return None
            grant = await asyncio.shield(self._fetch(key, digest))
        elif self.cache.refresh_due(digest) and not self._in_flight(digest):
            self._fetch(key, digest).add_done_callback(self._refreshed(digest))
        if grant is not None and grant.expires_at is not None and (
                self._wall_clock() >= grant.expires_at):
            return None
        return grant

    def _in_flight(self, digest: str) -> bool:
        return self._joinable((digest, self.cache.generation())) is not None

    def _joinable(self, started: tuple[str, int]) -> asyncio.Task[ApiKeyGrant | None] | None:
        """The fetch in flight on this event loop (a test's loop may have closed under one)."""
        fetching = self._fetching.get(started)
        if fetching is None or fetching.get_loop() is not asyncio.get_running_loop():
            return None
        return fetching

    def _fetch(self, key: str, digest: str) -> asyncio.Task[ApiKeyGrant | None]:
        """The introspection of this key in flight at this cache generation, or a new one.
        Shielded by its waiters: one that gives up does not cancel it for the others."""
        started = (digest, self.cache.generation())
        fetching = self._joinable(started)
        if fetching is None:
            fetching = asyncio.get_running_loop().create_task(
                self._introspect_and_cache(key, *started))
            self._fetching[started] = fetching
            fetching.add_done_callback(lambda task: self._ended(started, task))
        return fetching

    def _ended(self, started: tuple[str, int], task: asyncio.Task[ApiKeyGrant | None]) -> None:
        """No longer in flight. Its error is taken here too, so one whose waiters all gave
        up is not reported as never retrieved (each waiter that stayed raised it)."""
        if self._fetching.get(started) is task:
            del self._fetching[started]
        if not task.cancelled():
            task.exception()

    async def _introspect_and_cache(self, key: str, digest: str,
                                    generation: int) -> ApiKeyGrant | None:
        grant = await self._introspect(key)
        self.cache.put(digest, grant, generation)
        return grant

    def _refreshed(self, digest: str) -> Callable[[asyncio.Task[ApiKeyGrant | None]], None]:
        """A background fetch's end: a failure is logged once and the entry left to expire
        (the request after it introspects, and answers an outage, itself)."""

        def done(task: asyncio.Task[ApiKeyGrant | None]) -> None:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                self.cache.postpone_refresh(digest)
                log.info("api_key_refresh_failed", error_class=type(error).__name__)

        return done

    async def _introspect(self, key: str) -> ApiKeyGrant | None:
        self.calls += 1
        headers = {"X-Internal-Token": self._internal_token or ""}
        try:
            response = await self._http.post(INTROSPECT_PATH, json={"key": key},
                                             headers=headers)
        except httpx.TransportError as error:
            raise ApiKeyServiceUnavailableError(type(error).__name__) from None
        if response.status_code != 200:
            log.error("api_key_introspection_failed", status=response.status_code)
            raise ApiKeyServiceUnavailableError(f"status {response.status_code}")
        return _grant(response.json())


def _grant(body: dict[str, Any]) -> ApiKeyGrant | None:
    if body.get("active") is not True:
        return None
    try:
        org_id = parse_id("org", str(body["org_id"]))
        project = body.get("project_id")
        project_id: UUID | None = parse_id("proj", str(project)) if project else None
        parse_id("key", str(body["key_id"]))
    except (KeyError, NotFoundError):
        raise ApiKeyServiceUnavailableError("malformed introspection answer") from None
    expires_at = body.get("expires_at")
    return ApiKeyGrant(key_id=str(body["key_id"]), org_id=org_id,
                       scopes=tuple(str(s) for s in body.get("scopes") or ()),
                       project_id=project_id,
                       expires_at=float(expires_at) if expires_at is not None else None)


class BearerVerifier(AccessTokenVerifier):
    """The access-token verifier, plus the API-key introspector for `bsk_` bearer tokens."""

    def __init__(self, fetch_jwks: JwksFetcher, *, issuer: str, audience: str,
                 revocations: SessionRevocations, api_keys: ApiKeyIntrospector) -> None:
        super().__init__(fetch_jwks, issuer=issuer, audience=audience, revocations=revocations)
        self.api_keys = api_keys
