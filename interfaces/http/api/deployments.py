"""Deployments: commands go to the Serving application, reads come from the projection.

A deployment of another organization, or (for a project key) of another project, does not
exist: 404 on every route. The caller sets what should run (`desired_state`, the replica
bounds); the deployment controller reports what runs, and the status follows from both.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.serving.service import NewDeployment
from domain.serving.deployment import Deployment as DeploymentAggregate
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, expected_version, fingerprint
from interfaces.http.deployment_presenter import PREFIX, deployment_from_row, row_of
from interfaces.http.deployment_schemas import (
    CreateDeploymentRequest,
    Deployment,
    UpdateDeploymentRequest,
)
from interfaces.http.docs import errors
from interfaces.http.memory_first import memory_first
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.schemas import ListPage, page_of
from interfaces.http.security import Principal, owning_project, require_scope

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]

UPDATE_DESCRIPTION = """\
`desired_state` `stopped` stops it (`stopping` until its replicas stopped, then `stopped`);
`running` starts a stopped deployment again, or retries a failed one. `min_replicas` and
`max_replicas` change its bounds (1 ≤ min ≤ max ≤ 8); an absent field keeps its value, and a
request that changes nothing changes nothing (same version). A deployment still `stopping`
cannot be started: 409 `invalid_state_transition` with `allowed_actions`. `If-Match` (the
version, as the ETag gives it) makes the change conditional: 412 when it moved on.
"""


def _written(deployment: DeploymentAggregate, status: int = 200) -> Response[Deployment]:
    return Response(deployment_from_row(row_of(deployment)), status_code=status,
                    headers=etag(deployment.version))


class DeploymentsController(Controller):
    path = "/v1/deployments"
    tags = ["Deployments"]

    @post(sync_to_thread=True, operation_id="createDeployment", status_code=201,
          summary="Deploy a model (created running)",
          description="`model` is a servable base or organization model, by id or name; "
                      "`backend` is `upstream` (then `upstream_url`, an http(s) URL, is "
                      "required) or `reference`. Everything is checked first; a problem is "
                      "400 naming the `param` and nothing is created. `Idempotency-Key` makes "
                      "a retry return the same deployment.",
          responses=errors(400, 401, 403, 404, 409))
    def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateDeploymentRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Deployment]:
        require_scope(principal, "deployments:write")
        new = NewDeployment(
            model=data.model, backend=data.backend, upstream_url=data.upstream_url,
            min_replicas=data.min_replicas, max_replicas=data.max_replicas, name=data.name,
            metadata=data.metadata,
            project_id=owning_project(principal, data.project_id, plane.queries))
        outcome = plane.serving.create_deployment(principal.org_id, new,
                                                  request_fingerprint=fingerprint(data),
                                                  cause=cause_for(request, principal))
        plane.await_projections(plane.serving.name, outcome.position)
        return _written(outcome.aggregate, 201)

    @get(operation_id="listDeployments",
         summary="List deployments, newest first", responses=errors(400, 401, 403, 404))
    async def list(self, principal: NamedDependency[Principal],
                   plane: NamedDependency[ControlPlane], limit: Limit = 20,
                   after: After = None) -> ListPage[Deployment]:
        return await memory_first(partial(self._page, principal, plane, limit, after))

    @staticmethod
    def _page(principal: Principal, plane: ControlPlane, limit: int,
              after: str | None) -> ListPage[Deployment]:
        require_scope(principal, "deployments:read")
        items, has_more = plane.deployment_queries.deployments(
            principal.org_hex, after=parse_id(PREFIX, after).hex if after else None,
            limit=limit, project_id=principal.project_id.hex if principal.project_id else None,
            present=deployment_from_row)
        return page_of(items, [item.id for item in items], has_more)

    @get("/{deployment_id:str}", sync_to_thread=True, operation_id="getDeployment",
         summary="Get a deployment: what should run, and what runs",
         description=POINT_IN_TIME, responses=errors(400, 401, 403, 404))
    def retrieve(self, deployment_id: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Deployment]:
        require_scope(principal, "deployments:read")
        when = point_in_time(as_of, version)
        if when is not None:
            return _written(load_at(
                plane.serving, DeploymentAggregate, parse_id(PREFIX, deployment_id), when,
                what="deployment", visible=lambda deployment: deployment.org_id ==
                principal.org_id and self._visible(principal, deployment.project_id)))
        row = plane.deployment_queries.deployment(principal.org_hex,
                                                  parse_id(PREFIX, deployment_id).hex)
        if row is None or not self._visible(principal, row["project_id"]):
            raise NotFoundError(f"No such deployment: {deployment_id!r}.")
        return Response(deployment_from_row(row), headers=etag(row["version"]))

    @put("/{deployment_id:str}", sync_to_thread=True, operation_id="updateDeployment",
         summary="Start, stop or rescale a deployment (If-Match makes it conditional)",
         description=UPDATE_DESCRIPTION, responses=errors(400, 401, 403, 404, 409, 412))
    def update(self, request: Request[Any, Any, Any], deployment_id: FromPath[str],
               data: JSONBody[UpdateDeploymentRequest], principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Deployment]:
        require_scope(principal, "deployments:write")
        target = parse_id(PREFIX, deployment_id)
        if not self._visible(principal, plane.serving.deployment(principal.org_id,
                                                                 target).project_id):
            raise NotFoundError(f"No such deployment: {deployment_id!r}.")
        outcome = plane.serving.update_deployment(
            principal.org_id, target, expected_version=expected_version(request),
            desired_state=data.desired_state, min_replicas=data.min_replicas,
            max_replicas=data.max_replicas, cause=cause_for(request, principal))
        plane.await_projections(plane.serving.name, outcome.position)
        return _written(outcome.aggregate)

    @staticmethod
    def _visible(principal: Principal, project_id: UUID | str | None) -> bool:
        if principal.project_id is None:
            return True
        project_hex = project_id.hex if isinstance(project_id, UUID) else project_id
        return principal.project_id.hex == project_hex
