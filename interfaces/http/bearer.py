"""Credentials in headers, read one way by every app: bearer tokens and the internal token."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.openapi.datastructures import ResponseSpec

from interfaces.http.errors import ApiError, ErrorEnvelope

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bitstride"'}


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The token of `Authorization: Bearer <token>`, or 401 `missing_token`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing_token",
                       "Send a token: 'Authorization: Bearer <access token or API key>'.",
                       headers=BEARER_CHALLENGE)
    return token.strip()


def require_internal_token(request: Request[Any, Any, Any], expected: str | None) -> None:
    """Service-to-service guard; with no token configured, the route refuses everyone."""
    supplied = request.headers.get("x-internal-token", "")
    if expected is None or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "A valid X-Internal-Token header is required.")


def error_docs(**by_status: str) -> dict[int, ResponseSpec]:
    """OpenAPI responses from keyword arguments like `e401="why"`, all in the envelope."""
    return {int(key[1:]): ResponseSpec(data_container=ErrorEnvelope, description=text,
                                       generate_examples=False)
            for key, text in by_status.items()}
