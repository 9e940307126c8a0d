"""Who is calling: a bearer access token verified locally against the auth service's keys,
or an API key (`bsk_...`) introspected through the auth service and cached briefly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request

from domain.identity.api_key_format import looks_like_api_key
from domain.identity.scopes import USER_SCOPES, grants
from domain.shared.errors import NotFoundError
from domain.shared.ids import format_id, parse_id
from infra.auth.api_key_client import ApiKeyServiceUnavailableError, BearerVerifier
from infra.auth.tokens import AccessTokenVerifier, InvalidTokenError, KeySetUnavailableError
from interfaces.http.bearer import BEARER_CHALLENGE, bearer_token
from interfaces.http.errors import ApiError
from interfaces.http.organization_states import OrganizationStates
from projections.tenancy.queries import TenancyQueries


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: "user" (access token, every scope) or "api_key".

    A key's `scopes` bound what it may do; `project_id` set means it sees only that project.
    """

    actor_id: str
    kind: str
    org_id: UUID
    user_id: UUID | None
    session_id: str | None
    scopes: tuple[str, ...] = USER_SCOPES
    project_id: UUID | None = None

    @property
    def org_hex(self) -> str:
        return self.org_id.hex


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=BEARER_CHALLENGE)


def insufficient_scope(needed: str, message: str | None = None) -> ApiError:
    return ApiError(403, "insufficient_scope",
                    message or f"This API key lacks the '{needed}' scope.")


def require_scope(principal: Principal, needed: str, *, org_wide: bool = False) -> None:
    """Refuse (403 `insufficient_scope`) unless the caller holds `needed`, e.g.
    "projects:write". `org_wide`: the route acts beyond one project, so a key restricted
    to a project may not use it."""
    if not grants(principal.scopes, needed):
        raise insufficient_scope(needed)
    if org_wide and principal.project_id is not None:
        raise insufficient_scope(needed, f"This API key is restricted to one project; "
                                         f"'{needed}' on the organization needs a key without "
                                         "a project.")


def require_project(principal: Principal, project_id: UUID) -> None:
    """A project-restricted key sees no other project: 404, like another tenant's id."""
    if principal.project_id is not None and principal.project_id != project_id:
        raise NotFoundError(f"No such project: {format_id('proj', project_id)!r}.")


async def authenticate(request: Request[Any, Any, Any], verifier: AccessTokenVerifier,
                       organizations: OrganizationStates) -> Principal:
    principal = await identify(request, verifier)
    check_organization(await organizations.state(principal.org_hex))
    return principal


async def identify(request: Request[Any, Any, Any], verifier: AccessTokenVerifier) -> Principal:
    """The caller by its bearer credential alone: `authenticate` without the organization's
    state (for callers that check it their own way, as the gateway does from a cache)."""
    token = bearer_token(request)
    if looks_like_api_key(token):
        return await _api_key_principal(token, verifier)
    return await _user_principal(token, verifier)


def check_organization(state: str | None) -> None:
    """Refuse the credentials of a deleted organization (`state` from the read model)."""
    if state == "deleted":
        raise _unauthorized("organization_deleted", "This token's organization was deleted.")


async def _user_principal(token: str, verifier: AccessTokenVerifier) -> Principal:
    try:
        claims = await verifier.verify(token)
    except InvalidTokenError as error:
        raise _unauthorized(error.code, error.message) from None
    except KeySetUnavailableError:
        raise ApiError(503, "service_unavailable",
                       "The auth service's signing keys are unavailable; retry shortly.") from None
    return Principal(actor_id=format_id("user", claims.user_id), kind="user",
                     org_id=claims.org_id, user_id=claims.user_id,
                     session_id=claims.session_id)


async def _api_key_principal(token: str, verifier: AccessTokenVerifier) -> Principal:
    if not isinstance(verifier, BearerVerifier):
        raise _unauthorized("invalid_api_key", "API keys are not accepted here.")
    try:
        grant = await verifier.api_keys.grant(token)
    except ApiKeyServiceUnavailableError:
        raise ApiError(503, "service_unavailable",
                       "The auth service cannot check API keys right now; retry shortly.") \
            from None
    if grant is None:
        raise _unauthorized("invalid_api_key", "The API key is invalid, expired or revoked.")
    return Principal(actor_id=grant.key_id, kind="api_key", org_id=grant.org_id, user_id=None,
                     session_id=None, scopes=grant.scopes, project_id=grant.project_id)


def owning_project(principal: Principal, project_id: str | None,
                   tenancy: TenancyQueries) -> UUID | None:
    """The project a new object belongs to: the named one (it must exist in the caller's
    organization and be visible to a project key), or a project key's own project."""
    if project_id is None:
        return principal.project_id
    project = parse_id("proj", project_id)
    require_project(principal, project)
    if tenancy.project(principal.org_hex, project.hex) is None:
        raise NotFoundError(f"No such project: {project_id!r}.", param="project_id")
    return project
