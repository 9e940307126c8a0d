"""Auth service routes: TOTP enrolment, activation, the login's second step, and disable."""

from __future__ import annotations

import io
from typing import Any

import anyio.to_thread
import segno
from litestar import post
from litestar.datastructures import State
from litestar.params import JSONBody

from application.identity.mfa import SecondCode, SecondFactors
from application.identity.service import IdentityService
from application.identity.signin import SignIn
from application.ports import SessionRevocations
from domain.shared.errors import ValidationFailedError
from infra.auth.secretbox import AesGcmSecretBox, decode_key
from infra.auth.tokens import AccessClaims
from infra.settings import Settings
from interfaces.http.auth_service.routes import (
    AnyRequest,
    _identity,
    _token_pair,
    _verifier,
    throttled_as_429,
)
from interfaces.http.auth_service.schemas import (
    MfaActivatedObject,
    MfaCodeBody,
    MfaDisableBody,
    MfaDisabledObject,
    MfaEnrollmentObject,
    MfaVerifyLoginBody,
    TokenPairObject,
)
from interfaces.http.auth_service.verification import shared_throttle
from interfaces.http.bearer import bearer_token, error_docs
from interfaces.http.request_id import request_id_of


def _factors(request: AnyRequest) -> SecondFactors:
    factors: SecondFactors = request.app.state.second_factors
    return factors


async def _caller(request: AnyRequest) -> AccessClaims:
    return await _verifier(request).verify(bearer_token(request))


def _second_code(code: str | None, recovery_code: str | None) -> SecondCode:
    if (code is None) == (recovery_code is None):
        raise ValidationFailedError("Send exactly one of `code` or `recovery_code`.",
                                    param="code")
    return SecondCode(totp=code, recovery=recovery_code)


def _qr_svg(uri: str) -> str:
    """The otpauth URI as a standalone SVG QR code, for apps that scan instead of typing."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=2)
    return buffer.getvalue().decode()


AUTH_401 = "Missing, invalid, expired or revoked access token."


@post("/v1/auth/mfa/enroll", status_code=200, tags=["auth"],
      summary="Start TOTP enrolment: a new secret, its otpauth:// URI and a QR code",
      description="The factor stays off until POST /v1/auth/mfa/verify accepts a code.",
      responses=error_docs(e401=AUTH_401, e409="`mfa_already_enabled`: disable it first."))
async def enroll(request: AnyRequest) -> MfaEnrollmentObject:
    claims = await _caller(request)
    identity = _identity(request)
    enrollment = await anyio.to_thread.run_sync(lambda: _factors(request).enroll(
        claims.user_id, identity.clock(), request_id=request_id_of(request.scope)))
    return MfaEnrollmentObject(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri,
                               qr_svg=_qr_svg(enrollment.otpauth_uri))


@post("/v1/auth/mfa/verify", status_code=200, tags=["auth"],
      summary="Turn TOTP on with a first code; returns 10 recovery codes, shown once",
      responses=error_docs(e400="The body is malformed.",
                        e401=f"`invalid_mfa_code`, or: {AUTH_401}",
                        e409="`mfa_not_enrolled` or `mfa_already_enabled`.",
                        e429="`rate_limited`: too many wrong codes."))
async def activate(request: AnyRequest, data: JSONBody[MfaCodeBody]) -> MfaActivatedObject:
    claims = await _caller(request)
    identity = _identity(request)

    def command() -> list[str]:
        with throttled_as_429():
            return _factors(request).activate(claims.user_id, data.code, identity.clock(),
                                              request_id=request_id_of(request.scope))

    return MfaActivatedObject(recovery_codes=await anyio.to_thread.run_sync(command))


@post("/v1/auth/mfa/verify-login", status_code=200, sync_to_thread=True, tags=["auth"],
      summary="Finish an MFA login: the challenge plus a TOTP or recovery code",
      responses=error_docs(e400="The body is malformed, or not exactly one code was sent.",
                        e401="`invalid_mfa_token` (unknown, expired, used, or out of its 5 "
                             "attempts) or `invalid_mfa_code`.",
                        e429="`rate_limited`: too many wrong codes for this user."))
def verify_login(request: AnyRequest, data: JSONBody[MfaVerifyLoginBody]) -> TokenPairObject:
    code = _second_code(data.code, data.recovery_code)
    identity = _identity(request)
    with throttled_as_429():
        pair = _factors(request).verify_login(data.mfa_token, code, identity.clock(),
                                              request_id=request_id_of(request.scope))
    return _token_pair(pair)


@post("/v1/auth/mfa/disable", status_code=200, tags=["auth"],
      summary="Turn TOTP off with the password and a current code; ends other sessions",
      responses=error_docs(e400="The body is malformed, or not exactly one code was sent.",
                        e401=AUTH_401,
                        e403="`reauthentication_required`: wrong password or code.",
                        e409="`mfa_not_enabled`.",
                        e429="`rate_limited`: too many wrong codes."))
async def disable(request: AnyRequest, data: JSONBody[MfaDisableBody]) -> MfaDisabledObject:
    claims = await _caller(request)
    code = _second_code(data.code, data.recovery_code)
    identity = _identity(request)

    def command() -> int:
        with throttled_as_429():
            return _factors(request).disable(claims.user_id, claims.session_id, data.password,
                                             code, identity.clock(),
                                             request_id=request_id_of(request.scope))

    return MfaDisabledObject(ended_sessions=await anyio.to_thread.run_sync(command))


ROUTES: list[Any] = [enroll, activate, verify_login, disable]


def install(state: State, settings: Settings, identity: IdentityService,
            revocations: SessionRevocations) -> None:
    """Build this feature's components onto the app state at startup."""
    if settings.mfa_encryption_key:
        box = AesGcmSecretBox(decode_key(settings.mfa_encryption_key))
    else:
        box = AesGcmSecretBox.load_or_create(settings.data_dir / "auth" / "mfa-key")
    throttle = shared_throttle(state, settings)
    factors = SecondFactors(identity, box, throttle)
    state.second_factors = factors
    state.sign_in = SignIn(identity, factors, throttle,
                           require_verified_email=settings.require_verified_email)
