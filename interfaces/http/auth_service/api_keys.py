"""Auth service routes: API keys (create, list, update, revoke) and their introspection.

Keys are managed with a user's access token only: a key cannot create, list or change keys.
The introspection route is internal (X-Internal-Token) and answers the control plane.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from application.identity.api_keys import ApiKeys, KeyChanges
from application.identity.service import IdentityService
from application.ports import SessionRevocations
from domain.identity.api_key import ApiKey, Expiry
from domain.identity.api_key_format import looks_like_api_key, parse_key_id
from domain.shared.errors import NotFoundError
from domain.shared.ids import format_id, parse_id
from infra.auth.api_key_changes import build_api_key_changes
from infra.auth.api_key_secret import api_key_hasher
from infra.auth.tokens import AccessClaims, AccessTokenVerifier
from infra.settings import Settings
from interfaces.http.auth_service.schemas import (
    ApiKeyDeletedObject,
    ApiKeyIntrospectionObject,
    ApiKeyListObject,
    ApiKeyObject,
    CreateApiKeyBody,
    CreatedApiKeyObject,
    IntrospectApiKeyBody,
    UpdateApiKeyBody,
)
from interfaces.http.bearer import bearer_token, error_docs, require_internal_token
from interfaces.http.commands import expected_version
from interfaces.http.errors import ApiError
from interfaces.http.request_id import request_id_of

AnyRequest = Request[Any, Any, Any]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]


def install(state: State, settings: Settings, identity: IdentityService,
            revocations: SessionRevocations) -> None:
    """Build this feature's components onto the app state at startup.

    The control plane hands its notifier in through `state.api_key_changes` when it embeds
    this app (so its cache hears changes in-process); otherwise it comes from REDIS_URL.
    """
    notifier = state.get("api_key_changes") or build_api_key_changes(settings.redis_url)
    state.api_keys = ApiKeys(identity, hasher=api_key_hasher(settings), notifier=notifier,
                             clock=identity.clock)


def _api_keys(request: AnyRequest) -> ApiKeys:
    keys: ApiKeys = request.app.state.api_keys
    return keys


async def _user(request: AnyRequest) -> AccessClaims:
    """The calling user; an API key is refused here (keys never manage keys)."""
    token = bearer_token(request)
    if looks_like_api_key(token):
        if parse_key_id(token) is None:
            raise ApiError(401, "invalid_api_key", "The API key is invalid, expired or revoked.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        raise ApiError(403, "user_token_required",
                       "API keys cannot manage API keys; use a user access token.")
    verifier: AccessTokenVerifier = request.app.state.verifier
    return await verifier.verify(token)


def _ts(value: float | None) -> int | None:
    return None if value is None else int(value)


def _fields(key: ApiKey) -> dict[str, Any]:
    return {
        "id": format_id("key", key.id), "name": key.name, "prefix": key.prefix,
        "redacted_value": f"{key.prefix}…{key.last4}", "scopes": list(key.scopes),
        "project_id": format_id("proj", key.project_id) if key.project_id else None,
        "created_at": int(key.created_at), "created_by": format_id("user", key.created_by),
        "expires_at": _ts(key.expires_at), "last_used_at": _ts(key.last_used_at),
        "version": key.version,
    }


def _project(raw: str | None) -> UUID | None:
    if raw is None:
        return None
    try:
        return parse_id("proj", raw)
    except NotFoundError:
        raise ApiError(400, "invalid_value", "project_id must be a project id (proj_...).",
                       param="project_id") from None


@get("/v1/api_keys", tags=["API keys"], summary="List the organization's API keys",
     responses=error_docs(e400="`limit` is not 1 to 100.",
                       e401="Missing or invalid access token.",
                       e403="`user_token_required`: an API key cannot list keys.",
                       e404="`after` is not a key of the caller's organization."))
async def list_api_keys(request: AnyRequest, limit: Limit = 20,
                        after: After = None) -> ApiKeyListObject:
    claims = await _user(request)
    cursor = parse_id("key", after) if after else None
    keys, has_more = await anyio.to_thread.run_sync(
        partial(_api_keys(request).list, claims.org_id, after=cursor, limit=limit))
    data = [ApiKeyObject(**_fields(key)) for key in keys]
    return ApiKeyListObject(data=data, first_id=data[0].id if data else None,
                            last_id=data[-1].id if data else None, has_more=has_more)


@post("/v1/api_keys", status_code=201, tags=["API keys"],
      summary="Create an API key; the full key is in this answer only",
      responses=error_docs(e400="Invalid name, scopes, project_id or expires_in_days "
                             "(1 to 365), or an unknown field.",
                        e401="Missing or invalid access token.",
                        e403="`scope_escalation` or `user_token_required`.",
                        e409="`too_many_api_keys`."))
async def create_api_key(request: AnyRequest,
                         data: JSONBody[CreateApiKeyBody]) -> CreatedApiKeyObject:
    claims = await _user(request)
    command = partial(_api_keys(request).create, user_id=claims.user_id, org_id=claims.org_id,
                      name=data.name, scopes=data.scopes, project_id=_project(data.project_id),
                      expiry=Expiry(data.expires_in_days),
                      request_id=request_id_of(request.scope))
    issued = await anyio.to_thread.run_sync(command)
    return CreatedApiKeyObject(key=issued.value, **_fields(issued.key))


@put("/v1/api_keys/{key_id:str}", tags=["API keys"],
     summary="Change an API key's name, scopes or expiry (never its secret)",
     responses=error_docs(e400="Invalid value, or a field that cannot be changed.",
                       e401="Missing or invalid access token.",
                       e403="`scope_escalation` or `user_token_required`.",
                       e404="No such key in the caller's organization.",
                       e409="The key has expired; only revoking is allowed.",
                       e412="If-Match names another version."))
async def update_api_key(request: AnyRequest, key_id: FromPath[str],
                         data: JSONBody[UpdateApiKeyBody]) -> ApiKeyObject:
    claims = await _user(request)
    changes = KeyChanges(
        name=None if data.name is msgspec.UNSET else data.name,
        scopes=None if data.scopes is msgspec.UNSET else data.scopes,
        expiry=None if data.expires_in_days is msgspec.UNSET else Expiry(data.expires_in_days))
    command = partial(_api_keys(request).update, user_id=claims.user_id, org_id=claims.org_id,
                      key_id=parse_id("key", key_id), changes=changes,
                      expected_version=expected_version(request),
                      request_id=request_id_of(request.scope))
    key = await anyio.to_thread.run_sync(command)
    return ApiKeyObject(**_fields(key))


@delete("/v1/api_keys/{key_id:str}", status_code=200, tags=["API keys"],
        summary="Revoke an API key: it stops working on every control plane within seconds",
        responses=error_docs(e401="Missing or invalid access token.",
                          e403="`user_token_required`: an API key cannot revoke keys.",
                          e404="No such key in the caller's organization.",
                          e412="If-Match names another version."))
async def delete_api_key(request: AnyRequest, key_id: FromPath[str]) -> ApiKeyDeletedObject:
    claims = await _user(request)
    command = partial(_api_keys(request).revoke, user_id=claims.user_id, org_id=claims.org_id,
                      key_id=parse_id("key", key_id), expected_version=expected_version(request),
                      request_id=request_id_of(request.scope))
    await anyio.to_thread.run_sync(command)
    return ApiKeyDeletedObject(id=key_id)


@post("/internal/api_keys/introspect", status_code=200, sync_to_thread=True,
      tags=["internal"], summary="What an API key may do (inactive says nothing more)",
      responses=error_docs(e400="The body is malformed.",
                           e401="Missing or wrong X-Internal-Token."))
def introspect_api_key(request: AnyRequest,
                       data: JSONBody[IntrospectApiKeyBody]) -> ApiKeyIntrospectionObject:
    require_internal_token(request, request.app.state.internal_token)
    grant = _api_keys(request).introspect(data.key)
    if grant is None:
        return ApiKeyIntrospectionObject(active=False)
    return ApiKeyIntrospectionObject(
        active=True, key_id=format_id("key", grant.key_id),
        org_id=format_id("org", grant.org_id), scopes=list(grant.scopes),
        project_id=format_id("proj", grant.project_id) if grant.project_id else None,
        expires_at=_ts(grant.expires_at))


ROUTES: list[Any] = [list_api_keys, create_api_key, update_api_key, delete_api_key,
                     introspect_api_key]
