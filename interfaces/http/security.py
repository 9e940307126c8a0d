"""Who is calling: a bearer access token verified locally against the auth service's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
from litestar import Request

from domain.shared.ids import format_id
from infra.auth.tokens import AccessTokenVerifier, InvalidTokenError, KeySetUnavailableError
from interfaces.http.errors import ApiError
from projections.tenancy.queries import TenancyQueries

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bitstride"'}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `kind` is "user" for access tokens ("api_key" later)."""

    actor_id: str
    kind: str
    org_id: UUID
    user_id: UUID | None
    session_id: str | None

    @property
    def org_hex(self) -> str:
        return self.org_id.hex


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=BEARER_CHALLENGE)


async def authenticate(request: Request[Any, Any, Any], verifier: AccessTokenVerifier,
                       tenancy: TenancyQueries) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing_token", "Send an access token: Authorization: Bearer <token>.")
    try:
        claims = await verifier.verify(token.strip())
    except InvalidTokenError as error:
        raise _unauthorized(error.code, error.message) from None
    except KeySetUnavailableError:
        raise ApiError(503, "service_unavailable",
                       "The auth service's signing keys are unavailable; retry shortly.") from None
    state = await anyio.to_thread.run_sync(tenancy.organization_state, claims.org_id.hex)
    if state == "deleted":
        raise _unauthorized("organization_deleted", "This token's organization was deleted.")
    return Principal(actor_id=format_id("user", claims.user_id), kind="user",
                     org_id=claims.org_id, user_id=claims.user_id,
                     session_id=claims.session_id)
