"""What every command route does the same way: cause, preconditions, fingerprint, wait."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
from litestar import Request

from domain.shared.cause import Cause
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of
from interfaces.http.security import Principal

MAX_IDEMPOTENCY_KEY_LENGTH = 255
_IF_MATCH = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


def cause_for(request: Request[Any, Any, Any], principal: Principal) -> Cause:
    """Who and which request, for the event record. The key is a client nonce, not a secret."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ApiError(400, "invalid_request",
                       f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
                       param="Idempotency-Key")
    return Cause(actor_id=principal.actor_id, actor_kind=principal.kind,
                 request_id=request_id_of(request.scope), idempotency_key=key)


def expected_version(request: Request[Any, Any, Any]) -> int | None:
    """The version named by If-Match (`3`, `"3"` or `W/"3"`), or None when absent or `*`."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    match = _IF_MATCH.match(raw.strip())
    if match is None:
        raise ApiError(400, "invalid_request", "If-Match must name an object version, e.g. \"3\".",
                       param="If-Match")
    return int(match.group(1))


def fingerprint(body: msgspec.Struct) -> str:
    """A stable hash of a request body, to tell an idempotent replay from a reused key."""
    return hashlib.sha256(msgspec.json.encode(body)).hexdigest()


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}
