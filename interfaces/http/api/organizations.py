"""The caller's organization: read from the projection, changed through Tenancy commands."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from domain.shared.errors import NotFoundError, PermissionDeniedError
from domain.tenancy.organization import Organization as OrganizationAggregate
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, expected_version
from interfaces.http.docs import errors
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.presenters import organization_from_aggregate, organization_from_row
from interfaces.http.schemas import Deleted, Organization, UpdateOrganizationRequest
from interfaces.http.security import Principal, require_scope

Confirm = Annotated[str, QueryParameter(
    description="The organization's exact name, to confirm the deletion.")]


class OrganizationsController(Controller):
    path = "/v1/orgs/current"
    tags = ["Organization"]

    @get(sync_to_thread=True, operation_id="getCurrentOrganization",
         summary="The organization of the caller's credentials", description=POINT_IN_TIME,
         responses=errors(400, 401, 403, 404))
    def retrieve(self, principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Organization]:
        require_scope(principal, "orgs:read", org_wide=True)
        when = point_in_time(as_of, version)
        if when is not None:
            then = load_at(plane.tenancy, OrganizationAggregate, principal.org_id, when,
                           what="organization", visible=lambda _org: True)
            return Response(organization_from_aggregate(then), headers=etag(then.version))
        row = plane.queries.organization(principal.org_hex)
        if row is None:
            raise NotFoundError("The organization does not exist (yet).")
        return Response(organization_from_row(row), headers=etag(row["version"]))

    @put(sync_to_thread=True, operation_id="updateCurrentOrganization",
         summary="Rename the organization or change its settings",
         responses=errors(400, 401, 403, 404, 409, 412))
    def update(self, request: Request[Any, Any, Any], data: JSONBody[UpdateOrganizationRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Organization]:
        require_scope(principal, "orgs:write", org_wide=True)
        outcome = plane.tenancy.update_organization(
            principal.org_id, name=data.name, settings=data.settings,
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.tenancy.name, outcome.position)
        return Response(organization_from_aggregate(outcome.aggregate),
                        headers=etag(outcome.aggregate.version))

    @delete(sync_to_thread=True, operation_id="deleteCurrentOrganization", status_code=200,
            summary="Delete the organization: owner only, never with an API key; its sessions "
                    "end and its projects are deleted", responses=errors(400, 401, 403, 404, 412))
    def remove(self, request: Request[Any, Any, Any], confirm: Confirm,
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Deleted:
        if principal.kind != "user":
            raise PermissionDeniedError("An organization cannot be deleted with an API key.")
        require_scope(principal, "orgs:write", org_wide=True)
        outcome = plane.tenancy.delete_organization(
            principal.org_id, actor_user_id=principal.user_id, confirm=confirm,
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.tenancy.name, outcome.position)
        return Deleted(id=f"org_{principal.org_hex}", object="organization.deleted", deleted=True)
