"""Signing in: throttled password check, then a session, or an MFA challenge when a factor is on.

The HTTP login and refresh go through here; IdentityService.login stays the password-only
primitive and refuses users with an active factor.
"""

from __future__ import annotations

from application.identity.mfa import MfaChallengeIssued, SecondFactors
from application.identity.service import IdentityService
from application.identity.throttle import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_IP,
    REFRESHES_PER_SESSION,
    Throttle,
)
from application.identity.tokens import TokenPair, refresh_token_session
from application.identity.verification import throttle_subject
from application.shared.base import retry_on_conflict
from domain.identity.errors import InvalidCredentialsError
from domain.identity.factor_errors import EmailNotVerifiedError
from domain.shared.cause import Cause
from domain.shared.ids import format_id


class SignIn:
    """Login and refresh as the HTTP API offers them."""

    def __init__(self, identity: IdentityService, factors: SecondFactors, throttle: Throttle,
                 *, require_verified_email: bool = False) -> None:
        self._identity = identity
        self._factors = factors
        self._throttle = throttle
        self.require_verified_email = require_verified_email

    def login(self, email: str, password: str, now: float, *, client_ip: str,
              request_id: str | None = None) -> TokenPair | MfaChallengeIssued:
        """Known and unknown emails take the same path: same checks, hashing and counting."""
        account = throttle_subject(email)
        self._throttle.ensure_allowed(LOGIN_FAILURES_PER_IP, client_ip)
        self._throttle.ensure_allowed(LOGIN_FAILURES_PER_ACCOUNT, account)
        try:
            user = self._identity.authenticate(email, password, request_id=request_id)
        except InvalidCredentialsError:
            self._throttle.record_failure(LOGIN_FAILURES_PER_IP, client_ip)
            self._throttle.record_failure(LOGIN_FAILURES_PER_ACCOUNT, account)
            raise
        if self.require_verified_email and not user.email_verified:
            raise EmailNotVerifiedError
        cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
        if self._identity.mfa_active(user.id):
            return self._factors.challenge(user, now, cause)
        return retry_on_conflict(lambda: self._identity.open_session(user, now, cause))

    def refresh(self, refresh_token: str, now: float, *,
                request_id: str | None = None) -> TokenPair:
        session_id = refresh_token_session(refresh_token)
        self._throttle.consume(REFRESHES_PER_SESSION, session_id.hex)
        return self._identity.refresh(refresh_token, now, request_id=request_id)
