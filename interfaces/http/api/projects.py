"""Projects: commands go to the Tenancy application, reads come from the projection."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from domain.tenancy.project import Project as ProjectAggregate
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, expected_version, fingerprint
from interfaces.http.docs import errors
from interfaces.http.memory_first import memory_first
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.presenters import project_from_aggregate, project_from_row
from interfaces.http.schemas import (
    CreateProjectRequest,
    Deleted,
    ListPage,
    Project,
    UpdateProjectRequest,
    page_of,
)
from interfaces.http.security import (
    Principal,
    insufficient_scope,
    require_project,
    require_scope,
)

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]


class ProjectsController(Controller):
    path = "/v1/projects"
    tags = ["Projects"]

    @post(sync_to_thread=True, operation_id="createProject", summary="Create a project",
          responses=errors(400, 401, 403, 409), status_code=201)
    def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateProjectRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Project]:
        require_scope(principal, "projects:write")
        if principal.project_id is not None:
            raise insufficient_scope("projects:write", "This API key is restricted to one "
                                     "project; creating projects needs a key without a project.")
        outcome = plane.tenancy.create_project(
            principal.org_id, name=data.name, description=data.description,
            metadata=data.metadata, request_fingerprint=fingerprint(data),
            cause=cause_for(request, principal))
        plane.await_projections(plane.tenancy.name, outcome.position)
        project = outcome.aggregate
        return Response(project_from_aggregate(project), status_code=201,
                        headers=etag(project.version))

    @get(operation_id="listProjects", summary="List projects, newest first",
         responses=errors(400, 401, 403, 404))
    async def list(self, principal: NamedDependency[Principal],
                   plane: NamedDependency[ControlPlane], limit: Limit = 20,
                   after: After = None) -> ListPage[Project]:
        return await memory_first(partial(self._page, principal, plane, limit, after))

    @staticmethod
    def _page(principal: Principal, plane: ControlPlane, limit: int,
              after: str | None) -> ListPage[Project]:
        require_scope(principal, "projects:read")
        after_hex = parse_id("proj", after).hex if after else None
        if principal.project_id is not None:  # a project key lists its one project
            row = plane.queries.project(principal.org_hex, principal.project_id.hex)
            shown = row is not None and after_hex is None
            items, has_more = ([project_from_row(row)] if shown else []), False
        else:
            items, has_more = plane.queries.projects(principal.org_hex, after=after_hex,
                                                     limit=limit, present=project_from_row)
        return page_of(items, [item.id for item in items], has_more)

    @get("/{project_id:str}", sync_to_thread=True, operation_id="getProject",
         summary="Get a project", description=POINT_IN_TIME,
         responses=errors(400, 401, 403, 404))
    def retrieve(self, project_id: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Project]:
        require_scope(principal, "projects:read")
        project_uuid = parse_id("proj", project_id)
        require_project(principal, project_uuid)
        when = point_in_time(as_of, version)
        if when is not None:
            then = load_at(plane.tenancy, ProjectAggregate, project_uuid, when, what="project",
                           visible=lambda project: project.org_id == principal.org_id)
            return Response(project_from_aggregate(then), headers=etag(then.version))
        row = plane.queries.project(principal.org_hex, project_uuid.hex)
        if row is None:
            raise NotFoundError(f"No such project: {project_id!r}.")
        return Response(project_from_row(row), headers=etag(row["version"]))

    @put("/{project_id:str}", sync_to_thread=True, operation_id="updateProject",
         summary="Update a project (If-Match makes it conditional)",
         responses=errors(400, 401, 403, 404, 409, 412))
    def update(self, request: Request[Any, Any, Any], project_id: FromPath[str],
               data: JSONBody[UpdateProjectRequest], principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Project]:
        require_scope(principal, "projects:write")
        project_uuid = parse_id("proj", project_id)
        require_project(principal, project_uuid)
        outcome = plane.tenancy.update_project(
            principal.org_id, project_uuid, name=data.name,
            description=data.description, metadata=data.metadata,
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.tenancy.name, outcome.position)
        return Response(project_from_aggregate(outcome.aggregate),
                        headers=etag(outcome.aggregate.version))

    @delete("/{project_id:str}", sync_to_thread=True, operation_id="deleteProject",
            summary="Delete a project (its history stays in the log)", status_code=200,
            responses=errors(401, 403, 404, 409, 412))
    def remove(self, request: Request[Any, Any, Any], project_id: FromPath[str],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Deleted:
        require_scope(principal, "projects:write")
        project_uuid = parse_id("proj", project_id)
        require_project(principal, project_uuid)
        outcome = plane.tenancy.delete_project(
            principal.org_id, project_uuid,
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.tenancy.name, outcome.position)
        return Deleted(id=project_id, object="project.deleted", deleted=True)
