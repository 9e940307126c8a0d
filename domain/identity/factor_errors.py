"""Errors of email verification, MFA and throttling; their bases decide the HTTP status."""

from __future__ import annotations

from domain.shared.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    PermissionDeniedError,
    ValidationFailedError,
)


class InvalidVerificationTokenError(ValidationFailedError):
    """Unknown, used or expired: one error for all three, so tokens cannot be probed."""

    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("The verification link is invalid, expired or already used.",
                         param="token")


class EmailNotVerifiedError(PermissionDeniedError):
    """AUTH_REQUIRE_VERIFIED_EMAIL is on and this user has not clicked their link yet."""

    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__("Verify your email address before signing in.")


class MfaAlreadyEnabledError(ConflictError):
    code = "mfa_already_enabled"

    def __init__(self) -> None:
        super().__init__("Two-factor authentication is already enabled; disable it first.")


class MfaNotPendingError(ConflictError):
    code = "mfa_not_enrolled"

    def __init__(self) -> None:
        super().__init__("Start enrolment with POST /v1/auth/mfa/enroll first.")


class MfaNotEnabledError(ConflictError):
    code = "mfa_not_enabled"

    def __init__(self) -> None:
        super().__init__("Two-factor authentication is not enabled.")


class InvalidMfaCodeError(AuthenticationError):
    """Wrong, stale or replayed code: one error for all, so replays look like typos."""

    code = "invalid_mfa_code"

    def __init__(self) -> None:
        super().__init__("The authentication code is incorrect or was already used.",
                         param="code")


class InvalidMfaChallengeError(AuthenticationError):
    """The challenge is unknown, expired, used, or out of attempts: sign in again."""

    code = "invalid_mfa_token"

    def __init__(self) -> None:
        super().__init__("The MFA challenge is invalid, expired, used or out of attempts; "
                         "sign in again.", param="mfa_token")


class MfaRequiredError(AuthenticationError):
    """A password alone cannot open a session of a user with an active second factor."""

    code = "mfa_required"

    def __init__(self) -> None:
        super().__init__("This account requires a second factor.")


class ReauthenticationRequiredError(PermissionDeniedError):
    code = "reauthentication_required"

    def __init__(self) -> None:
        super().__init__("Confirm with your current password and a current code.")


class ThrottledError(DomainError):
    """Too many attempts; the HTTP layer answers 429 with `Retry-After: retry_after`."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; retry in {retry_after} seconds.")
        self.retry_after = retry_after
