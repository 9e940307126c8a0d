"""Every throttle threshold of the auth service, in one place (documented in the README).

Fixed windows that start at a key's first hit. Failures are checked before the expensive work
and counted after it, so a throttled caller costs no hashing; the account key is the typed
email (normalized), counted the same whether or not the account exists, so throttling reveals
nothing an unknown email would not. Keys hold a hash of the subject, never an email or IP.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.identity.codes import sha256_hex
from application.identity.ports import RateLimiter
from domain.identity.factor_errors import ThrottledError


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    window_seconds: int

    def key(self, subject: str) -> str:
        return f"bitstride:rl:{self.name}:{sha256_hex(subject)[:32]}"


LOGIN_FAILURES_PER_ACCOUNT = Limit("login-account", 10, 15 * 60)
LOGIN_FAILURES_PER_IP = Limit("login-ip", 30, 5 * 60)
MFA_FAILURES_PER_USER = Limit("mfa-user", 10, 15 * 60)
VERIFY_RESENDS_PER_EMAIL = Limit("verify-resend-email", 3, 60 * 60)
VERIFY_RESENDS_PER_IP = Limit("verify-resend-ip", 20, 60 * 60)
REFRESHES_PER_SESSION = Limit("refresh-session", 60, 60 * 60)

ALL_LIMITS = (LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_IP, MFA_FAILURES_PER_USER,
              VERIFY_RESENDS_PER_EMAIL, VERIFY_RESENDS_PER_IP, REFRESHES_PER_SESSION)


class Throttle:
    """Applies `Limit`s over a RateLimiter; over a limit raises ThrottledError (HTTP 429)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def ensure_allowed(self, limit: Limit, subject: str) -> None:
        """Refuse when `subject` already used its budget of failures in this window."""
        window = self._limiter.peek(limit.key(subject))
        if window.count >= limit.limit:
            raise ThrottledError(max(1, window.resets_in))

    def record_failure(self, limit: Limit, subject: str) -> None:
        self._limiter.hit(limit.key(subject), limit.window_seconds)

    def consume(self, limit: Limit, subject: str) -> None:
        """Count one attempt, refusing it when it is over the budget."""
        window = self._limiter.hit(limit.key(subject), limit.window_seconds)
        if window.count > limit.limit:
            raise ThrottledError(max(1, window.resets_in))
