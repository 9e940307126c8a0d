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
