"""Provider login (OAuth 2 / OIDC): start at the provider, finish at the callback.

The login route stores a pending flow (state hash, nonce, PKCE verifier) and gives the browser
an HttpOnly, SameSite=Lax cookie with the flow's random id; the callback accepts only the
state of the flow named by that cookie, once. Tokens go to a configured first-party URL in the
fragment (never to the server behind it), or back as JSON when no `redirect_to` was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
import msgspec
import redis
import structlog
from litestar import Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.params import FromPath, FromQuery, QueryParameter

from application.identity.mfa import SecondFactors
from application.identity.provider_login import (
    IdentityProvider,
    ProviderFlows,
    ProviderSignIn,
    ProviderUnavailableError,
    sign_in_with_provider,
)
from application.identity.redirects import redirect_allowed
from application.identity.service import IdentityService
from application.ports import SessionRevocations
from domain.shared.errors import NotFoundError
from infra.auth.providers import build_providers
from infra.flows import InMemoryFlowStore, RedisFlowStore
from infra.settings import Settings
from interfaces.http.auth_service.schemas import MfaRequiredObject, TokenPairObject
from interfaces.http.bearer import error_docs
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of

log = structlog.get_logger("bitstride.auth.oauth")

AnyRequest = Request[Any, Any, Any]
LOG_POSITION_HEADER = "Bitstride-Log-Position"  # a first login created a user at this position
COOKIE_PREFIX = "bitstride_oauth_"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class OAuthFeature:
    """What the two routes need, built once at startup."""

    identity: IdentityService
    providers: dict[str, IdentityProvider]
    flows: ProviderFlows
    public_url: str
    redirect_urls: tuple[str, ...]

    def provider(self, name: str) -> IdentityProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise NotFoundError(f"No login provider named {name[:40]!r} is configured.")
        return provider

    def redirect_uri(self, name: str) -> str:
        """Browsers come through the control plane, so its public URL is the one registered."""
        return f"{self.public_url}/v1/auth/callback/{name}"

    def flow_cookie(self, name: str, value: str, max_age: int) -> Cookie:
        return Cookie(key=COOKIE_PREFIX + name, value=value, max_age=max_age,
                      path=f"/v1/auth/callback/{name}", httponly=True, samesite="lax",
                      secure=self.public_url.startswith("https://"))


def _feature(request: AnyRequest) -> OAuthFeature:
    feature: OAuthFeature = request.app.state.oauth
    return feature


def _unavailable(provider: str, error: ProviderUnavailableError) -> ApiError:
    log.warning("oauth_provider_unavailable", provider=provider, detail=str(error))
    return ApiError(503, "provider_unavailable", "The login provider is unavailable; retry.")


@get("/v1/auth/login/{provider:str}", tags=["auth"], status_code=302, cache=False,
     summary="Start a provider login: redirects to the provider (state, nonce, PKCE S256)",
     description="`redirect_to` (optional) must fall under one of LOGIN_REDIRECT_URLS; the "
                 "callback then redirects there with the tokens in the URL fragment.",
     responses=error_docs(e400="`redirect_not_allowed`: redirect_to is not a configured URL.",
                       e404="No provider of that name is configured.",
                       e503="`provider_unavailable`: discovery failed."))
async def login_with_provider(request: AnyRequest, provider: FromPath[str],
                              redirect_to: FromQuery[str | None] = None) -> Response[Any]:
    feature = _feature(request)
    idp = feature.provider(provider)
    if redirect_to is not None and not redirect_allowed(redirect_to, feature.redirect_urls):
        raise ApiError(400, "redirect_not_allowed",
                       "redirect_to is not one of the configured first-party URLs.",
                       param="redirect_to")
    flow = feature.flows.start(provider, redirect_to, feature.identity.clock())
    try:
        url = await idp.authorization_url(redirect_uri=feature.redirect_uri(provider),
                                          state=flow.state, nonce=flow.nonce,
                                          code_challenge=flow.code_challenge)
    except ProviderUnavailableError as error:
        raise _unavailable(provider, error) from None
    return Response(b"", status_code=302, headers={"Location": url, **NO_STORE},
                    cookies=[feature.flow_cookie(provider, flow.flow_id,
                                                 feature.flows.ttl_seconds)])


@get("/v1/auth/callback/{provider:str}", tags=["auth"], status_code=200, cache=False,
     summary="Finish a provider login: check state, exchange the code, verify, sign in",
     description="Redirects (302) to the flow's redirect_to with `#access_token=…&"
                 "refresh_token=…&expires_in=…&token_type=bearer`, or answers the token pair. "
                 "With a second factor active: `mfa_token`, `expires_in` and `mfa_required` "
                 "instead, to redeem at /v1/auth/mfa/verify-login.",
     responses=error_docs(e400="`invalid_state`, `provider_denied`, `provider_rejected`, "
                            "`invalid_id_token` or `email_not_verified`.",
                       e404="No provider of that name is configured.",
                       e409="`account_exists`: the email belongs to an existing account.",
                       e503="`provider_unavailable`: the provider did not answer."))
async def provider_callback(request: AnyRequest, provider: FromPath[str],
                            code: FromQuery[str | None] = None,
                            flow_state: Annotated[str | None, QueryParameter(name="state")] = None,
                            error: FromQuery[str | None] = None) -> Response[Any]:
    feature = _feature(request)
    idp = feature.provider(provider)
    identity = feature.identity
    flow = feature.flows.finish(provider, request.cookies.get(COOKIE_PREFIX + provider),
                                flow_state, identity.clock())
    if error is not None:
        raise ApiError(400, "provider_denied", "The provider did not authorize the login.")
    if not code:
        raise ApiError(400, "invalid_request", "The callback carries no code.", param="code")
    try:
        profile = await idp.profile(code=code, code_verifier=flow.code_verifier,
                                    redirect_uri=feature.redirect_uri(provider),
                                    nonce=flow.nonce)
    except ProviderUnavailableError as failure:
        raise _unavailable(provider, failure) from None
    factors: SecondFactors | None = getattr(request.app.state, "second_factors", None)
    signed_in = await anyio.to_thread.run_sync(partial(
        sign_in_with_provider, identity, profile, identity.clock(), factors=factors,
        request_id=request_id_of(request.scope)))
    return _signed_in_response(feature, provider, signed_in, flow.redirect_to)


def _signed_in_response(feature: OAuthFeature, provider: str, signed_in: ProviderSignIn,
                        redirect_to: str | None) -> Response[Any]:
    headers = dict(NO_STORE)
    if signed_in.position is not None:
        headers[LOG_POSITION_HEADER] = str(signed_in.position)
    spent = feature.flow_cookie(provider, "", 0)
    body: TokenPairObject | MfaRequiredObject
    if signed_in.tokens is not None:
        pair = signed_in.tokens
        body = TokenPairObject(access_token=pair.access_token, expires_in=pair.expires_in,
                               refresh_token=pair.refresh_token, token_type=pair.token_type)
    else:
        assert signed_in.challenge is not None
        body = MfaRequiredObject(mfa_token=signed_in.challenge.mfa_token,
                                 expires_in=signed_in.challenge.expires_in)
    if redirect_to is not None and redirect_allowed(redirect_to, feature.redirect_urls):
        fragment = urlencode({k: str(v).lower() if isinstance(v, bool) else v
                              for k, v in msgspec.structs.asdict(body).items() if k != "object"})
        return Response(b"", status_code=302, headers={**headers,
                        "Location": f"{redirect_to}#{fragment}"}, cookies=[spent])
    return Response(body, status_code=200, headers=headers, cookies=[spent])


ROUTES: list[Any] = [login_with_provider, provider_callback]


def install(state: State, settings: Settings, identity: IdentityService,
            revocations: SessionRevocations) -> None:
    """Parse OAUTH_PROVIDERS (failing at start if malformed) and pick the flow store."""
    store = (RedisFlowStore(redis.Redis.from_url(settings.redis_url)) if settings.redis_url
             else InMemoryFlowStore())
    state.oauth = OAuthFeature(identity=identity,
                               providers=build_providers(settings.oauth_providers),
                               flows=ProviderFlows(store), public_url=settings.base_url.rstrip("/"),
                               redirect_urls=settings.login_redirect_urls)
