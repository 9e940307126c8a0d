"""Domain errors: each names a stable error code that the HTTP layer maps to a status."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every rule violation; `code` is the stable, snake_case error code."""

    code = "domain_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class NotFoundError(DomainError):
    """Raised when an object does not exist for the caller (including another tenant's)."""

    code = "not_found"


class ConflictError(DomainError):
    """Raised when a command clashes with current state (a taken name, a used key)."""

    code = "conflict"


class NameTakenError(ConflictError):
    """Raised when a name must be unique within its scope and is already in use."""

    code = "name_taken"


class IdempotencyKeyReusedError(ConflictError):
    """Raised when an Idempotency-Key is replayed with a different request body."""

    code = "idempotency_key_reused"


class VersionMismatchError(DomainError):
    """Raised when an If-Match precondition names a version other than the current one."""

    code = "precondition_failed"


class ValidationFailedError(DomainError):
    """Raised when a command's values break a domain rule (length, format, bounds)."""

    code = "invalid_value"


class AuthenticationError(DomainError):
    """Raised when credentials or tokens do not prove who the caller is (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    """Raised when the caller is known but may not perform the command."""

    code = "permission_denied"


class InvalidStateTransitionError(DomainError):
    """Raised when a command is not allowed in the aggregate's current state."""

    code = "invalid_state_transition"

    def __init__(self, *, action: str, state: str, allowed_actions: Sequence[str]) -> None:
        allowed = ", ".join(allowed_actions) or "none"
        super().__init__(f"Cannot {action} while {state}; allowed actions: {allowed}.")
        self.action = action
        self.state = state
        self.allowed_actions = tuple(allowed_actions)
