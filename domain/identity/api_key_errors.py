"""API-key rule violations; their bases decide the HTTP status."""

from __future__ import annotations

from domain.shared.errors import ConflictError, PermissionDeniedError


class ScopeEscalationError(PermissionDeniedError):
    """The requested scopes exceed what the key's creator holds."""

    code = "scope_escalation"

    def __init__(self) -> None:
        super().__init__("An API key cannot hold scopes its creator does not have.",
                         param="scopes")


class TooManyApiKeysError(ConflictError):
    """The organization reached its limit of active keys."""

    code = "too_many_api_keys"

    def __init__(self, limit: int) -> None:
        super().__init__(f"An organization can have at most {limit} active API keys; "
                         "revoke one first.")
