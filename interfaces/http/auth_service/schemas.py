"""Wire shapes of the auth service (msgspec Structs)."""

from __future__ import annotations

from typing import Any

import msgspec


class RegisterBody(msgspec.Struct):
    email: str
    password: str
    name: str = ""


class LoginBody(msgspec.Struct):
    email: str
    password: str


class RefreshBody(msgspec.Struct):
    refresh_token: str


class UserObject(msgspec.Struct):
    id: str
    email: str
    name: str
    organization_id: str
    created_at: int
    object: str = "user"


class TokenPairObject(msgspec.Struct):
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "bearer"


class SessionRevokedObject(msgspec.Struct):
    revoked: bool = True
    object: str = "session.revoked"


class OrganizationClosedObject(msgspec.Struct):
    id: str
    revoked_sessions: int
    closed: bool = True
    object: str = "organization.closed"


class HealthObject(msgspec.Struct):
    status: str = "ok"


class JwksObject(msgspec.Struct):
    keys: list[dict[str, Any]]


# -- API keys (issue 3 §4) ---------------------------------------------------------------------


class CreateApiKeyBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    scopes: list[str]
    project_id: str | None = None
    expires_in_days: int | None = None


class UpdateApiKeyBody(msgspec.Struct, forbid_unknown_fields=True):
    """Name, scopes and expiry only: any other field (secret, org_id, ...) is a 400."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    scopes: list[str] | msgspec.UnsetType = msgspec.UNSET
    expires_in_days: int | msgspec.UnsetType | None = msgspec.UNSET


class ApiKeyObject(msgspec.Struct):
    id: str
    name: str
    prefix: str
    redacted_value: str
    scopes: list[str]
    project_id: str | None
    created_at: int
    created_by: str
    expires_at: int | None
    last_used_at: int | None
    version: int
    object: str = "api_key"


class CreatedApiKeyObject(msgspec.Struct):
    """The create answer: the only time the full `key` is ever shown."""

    id: str
    key: str
    name: str
    prefix: str
    redacted_value: str
    scopes: list[str]
    project_id: str | None
    created_at: int
    created_by: str
    expires_at: int | None
    last_used_at: int | None
    version: int
    object: str = "api_key"


class ApiKeyListObject(msgspec.Struct):
    data: list[ApiKeyObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
    object: str = "list"


class ApiKeyDeletedObject(msgspec.Struct):
    id: str
    object: str = "api_key.deleted"
    deleted: bool = True


class IntrospectApiKeyBody(msgspec.Struct):
    key: str


class ApiKeyIntrospectionObject(msgspec.Struct):
    active: bool
    key_id: str | None = None
    org_id: str | None = None
    scopes: list[str] | None = None
    project_id: str | None = None
    expires_at: int | None = None


# -- email verification and MFA (issue 3) ----------------------------------------------------


class MfaRequiredObject(msgspec.Struct):
    """Login's answer when a second factor is active: no tokens, a challenge to redeem."""

    mfa_token: str
    expires_in: int
    mfa_required: bool = True
    object: str = "mfa.challenge"


class EmailVerifiedObject(msgspec.Struct):
    already_verified: bool
    verified: bool = True
    object: str = "email.verification"


class ResendVerificationBody(msgspec.Struct):
    email: str


class ResendAcceptedObject(msgspec.Struct):
    accepted: bool = True
    object: str = "email.verification.resend"


class MfaEnrollmentObject(msgspec.Struct):
    secret: str
    otpauth_uri: str
    qr_svg: str | None = None
    object: str = "mfa.enrollment"


class MfaCodeBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str


class MfaActivatedObject(msgspec.Struct):
    recovery_codes: list[str]
    enabled: bool = True
    object: str = "mfa.factor"


class MfaVerifyLoginBody(msgspec.Struct, forbid_unknown_fields=True):
    mfa_token: str
    code: str | None = None
    recovery_code: str | None = None


class MfaDisableBody(msgspec.Struct, forbid_unknown_fields=True):
    password: str
    code: str | None = None
    recovery_code: str | None = None


class MfaDisabledObject(msgspec.Struct):
    ended_sessions: int
    enabled: bool = False
    object: str = "mfa.factor"
