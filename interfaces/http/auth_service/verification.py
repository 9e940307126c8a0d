"""Auth service routes: email verification links and their rate-limited resend."""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar import Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody

from application.identity.service import IdentityService
from application.identity.throttle import Throttle
from application.identity.verification import EmailVerifications
from application.ports import SessionRevocations
from infra.mail import build_mailer
from infra.ratelimit import build_rate_limiter
from infra.settings import Settings
from interfaces.http.auth_service.routes import (
    AnyRequest,
    _identity,
    client_ip,
    throttled_as_429,
)
from interfaces.http.auth_service.schemas import (
    EmailVerifiedObject,
    ResendAcceptedObject,
    ResendVerificationBody,
)
from interfaces.http.bearer import error_docs
from interfaces.http.request_id import request_id_of


def _verifications(request: AnyRequest) -> EmailVerifications:
    verifications: EmailVerifications = request.app.state.email_verifications
    return verifications


@get("/v1/auth/verify", sync_to_thread=True, tags=["auth"], cache=False,
     summary="Verify an email address with the token from its link",
     description="A token works once, for 24 hours. Using it again answers 400 "
                 "`invalid_token`; the address stays verified.",
     responses=error_docs(e400="`invalid_token`: unknown, expired or already used."))
def verify_email(request: AnyRequest, token: FromQuery[str] = "") -> EmailVerifiedObject:
    identity = _identity(request)
    already = _verifications(request).verify(token, identity.clock(),
                                             request_id=request_id_of(request.scope))
    return EmailVerifiedObject(already_verified=already)


@post("/v1/auth/verify/resend", status_code=202, sync_to_thread=True, tags=["auth"],
      summary="Send a new verification link (always 202, whether or not the account exists)",
      responses=error_docs(e400="The body is malformed.",
                        e429="`rate_limited`: 3 per hour per address, 20 per hour per client."))
def resend_verification(request: AnyRequest, data: JSONBody[ResendVerificationBody],
                        ) -> Response[ResendAcceptedObject]:
    verifications = _verifications(request)
    with throttled_as_429():
        verifications.accept_resend(data.email, client_ip(request))
    # After the response: known and unknown addresses answer alike, in the same time.
    task = BackgroundTask(verifications.resend, data.email, _identity(request).clock(),
                          request_id=request_id_of(request.scope))
    return Response(ResendAcceptedObject(), status_code=202, background=task)


ROUTES: list[Any] = [verify_email, resend_verification]


def shared_throttle(state: State, settings: Settings) -> Throttle:
    """One limiter per app, shared by the login, MFA and verification routes."""
    throttle: Throttle | None = state.get("throttle")
    if throttle is None:
        throttle = Throttle(build_rate_limiter(settings.redis_url))
        state.throttle = throttle
        state.trusted_proxies = tuple(ipaddress.ip_network(p, strict=False)
                                      for p in settings.auth_trusted_proxies)
    return throttle


def install(state: State, settings: Settings, identity: IdentityService,
            revocations: SessionRevocations) -> None:
    """Build this feature's components onto the app state at startup."""
    mailer = build_mailer(settings.smtp_url, settings.mail_from, settings.data_dir / "outbox")
    state.email_verifications = EmailVerifications(identity, mailer,
                                                   shared_throttle(state, settings),
                                                   settings.base_url)
