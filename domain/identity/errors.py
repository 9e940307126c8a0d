"""Identity rule violations; their bases decide the HTTP status (401, 403, 409, 400)."""

from __future__ import annotations

from domain.shared.errors import AuthenticationError, ConflictError, PermissionDeniedError


class InvalidCredentialsError(AuthenticationError):
    """Unknown email or wrong password: one error for both, so accounts cannot be enumerated."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("Incorrect email or password.")


class InvalidRefreshTokenError(AuthenticationError):
    """The refresh token is malformed, unknown, expired, or its session has ended."""

    code = "invalid_refresh_token"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked.")


class RefreshTokenReusedError(AuthenticationError):
    """An already-rotated refresh token came back: the session is revoked as stolen."""

    code = "refresh_token_reused"

    def __init__(self) -> None:
        super().__init__("The refresh token was already used; the session has been revoked.")


class EmailTakenError(ConflictError):
    """Another user already registered this email address."""

    code = "email_taken"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists.", param="email")


class OrganizationDeletedError(PermissionDeniedError):
    """The organization was closed: no new sessions, no refreshes."""

    code = "organization_deleted"

    def __init__(self) -> None:
        super().__init__("The organization has been deleted.")
