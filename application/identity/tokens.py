"""Token values of the auth service: the pair handed to clients and the opaque refresh format."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from uuid import UUID

from domain.identity.errors import InvalidRefreshTokenError

_REFRESH_TOKEN = re.compile(r"^rt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class TokenPolicy:
    """Who issues access tokens, for whom, and for how long."""

    issuer: str
    audience: str
    access_ttl_seconds: int = 600
    refresh_ttl_seconds: int = 30 * 24 * 3600


@dataclass(frozen=True)
class TokenPair:
    """What a login or refresh returns; the only place raw tokens exist."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: UUID
    token_type: str = "bearer"


def new_refresh_token(session_id: UUID) -> str:
    """`rt_<session hex>_<256-bit secret>`: the session id lets us find the family in one read."""
    return f"rt_{session_id.hex}_{secrets.token_urlsafe(32)}"


def refresh_token_hash(token: str) -> str:
    """SHA-256 is enough for a 256-bit random secret; only this hash is ever stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def refresh_token_session(token: str) -> UUID:
    match = _REFRESH_TOKEN.match(token)
    if match is None:
        raise InvalidRefreshTokenError
    return UUID(hex=match.group(1))
