"""Models: commands go to the Models application, reads come from the projection.

`GET /v1/models` and `GET /v1/models/{id}` answer in the shape of OpenAI's models API, so the
official clients' `models.list()` and `models.retrieve()` parse them. GET also accepts a
model's name in place of its id (the caller's own model first, then a base model): OpenAI
clients retrieve by name. Writes take the id only, so a concurrent rename never redirects them.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.models.service import NewModel
from domain.catalog.model import Model as ModelAggregate
from domain.catalog.model import base_model_id
from domain.catalog.values import ID_LIKE
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, expected_version, fingerprint
from interfaces.http.docs import errors
from interfaces.http.memory_first import memory_first
from interfaces.http.model_presenter import model_from_aggregate, model_from_row
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.schemas import (
    Deleted,
    ListPage,
    Model,
    RegisterModelRequest,
    UpdateModelRequest,
    page_of,
)
from interfaces.http.security import Principal, require_scope

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]


def _written(model: ModelAggregate, status: int = 200) -> Response[Model]:
    return Response(model_from_aggregate(model), status_code=status, headers=etag(model.version))


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["Models"]

    @post(sync_to_thread=True, operation_id="registerModel", status_code=201,
          summary="Register an organization's model (weights derived from a base model)",
          description="`base_model` is a base model's id or name. `context_length` defaults "
                      "to the base's and may not exceed it.",
          responses=errors(400, 401, 403, 404, 409))
    def create(self, request: Request[Any, Any, Any], data: JSONBody[RegisterModelRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Model]:
        require_scope(principal, "models:write", org_wide=True)
        new = NewModel(name=data.name, base_model_id=self._base(principal, data.base_model,
                                                                plane),
                       weights_uri=data.weights_uri, context_length=data.context_length,
                       description=data.description, metadata=data.metadata)
        outcome = plane.models.register_model(principal.org_id, new,
                                              request_fingerprint=fingerprint(data),
                                              cause=cause_for(request, principal))
        plane.await_projections(plane.models.name, outcome.position)
        return _written(outcome.aggregate, 201)

    @get(operation_id="listModels",
         summary="List the organization's models and the base models, newest first",
         responses=errors(400, 401, 403, 404))
    async def list(self, principal: NamedDependency[Principal],
                   plane: NamedDependency[ControlPlane], limit: Limit = 20,
                   after: After = None) -> ListPage[Model]:
        return await memory_first(partial(self._page, principal, plane, limit, after))

    @staticmethod
    def _page(principal: Principal, plane: ControlPlane, limit: int,
              after: str | None) -> ListPage[Model]:
        require_scope(principal, "models:read")
        items, has_more = plane.model_queries.models(
            principal.org_hex, after=parse_id("model", after).hex if after else None,
            limit=limit, present=model_from_row)
        return page_of(items, [item.id for item in items], has_more)

    @get("/{model:str}", sync_to_thread=True, operation_id="getModel",
         summary="Get a model by id, or by name", description=POINT_IN_TIME,
         responses=errors(400, 401, 403, 404))
    def retrieve(self, model: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Model]:
        require_scope(principal, "models:read")
        when = point_in_time(as_of, version)
        if when is not None:
            then = load_at(plane.models, ModelAggregate, self._model_id(principal, model, plane),
                           when, what="model",
                           visible=lambda found: found.org_id in (None, principal.org_id))
            return _written(then)
        row = plane.model_queries.resolve(principal.org_hex, model)
        if row is None:
            raise NotFoundError(f"No such model: {model!r}.")
        return Response(model_from_row(row), headers=etag(row["version"]))

    @put("/{model_id:str}", sync_to_thread=True, operation_id="updateModel",
         summary="Rename or describe an organization's model (If-Match makes it conditional)",
         description="Base models belong to the platform: 403 permission_denied.",
         responses=errors(400, 401, 403, 404, 409, 412))
    def update(self, request: Request[Any, Any, Any], model_id: FromPath[str],
               data: JSONBody[UpdateModelRequest], principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Model]:
        require_scope(principal, "models:write", org_wide=True)
        outcome = plane.models.update_model(
            principal.org_id, parse_id("model", model_id), name=data.name,
            description=data.description, metadata=data.metadata,
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.models.name, outcome.position)
        return _written(outcome.aggregate)

    @delete("/{model_id:str}", sync_to_thread=True, operation_id="deleteModel",
            status_code=200,
            summary="Delete an organization's model (its history stays in the log)",
            description="409 model_in_use names the deployments and unfinished jobs that use "
                        "it; base models: 403 permission_denied.",
            responses=errors(401, 403, 404, 409, 412))
    def remove(self, request: Request[Any, Any, Any], model_id: FromPath[str],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Deleted:
        require_scope(principal, "models:write", org_wide=True)
        outcome = plane.models.delete_model(
            principal.org_id, parse_id("model", model_id),
            expected_version=expected_version(request), cause=cause_for(request, principal))
        plane.await_projections(plane.models.name, outcome.position)
        return Deleted(id=model_id, object="model", deleted=True)

    @staticmethod
    def _model_id(principal: Principal, model: str, plane: ControlPlane) -> UUID:
        """A model's id, from its id or (as the projection knows it now) its name."""
        if ID_LIKE.match(model):
            return parse_id("model", model)
        row = plane.model_queries.resolve(principal.org_hex, model)
        if row is None:
            raise NotFoundError(f"No such model: {model!r}.")
        return UUID(hex=row["id"])

    @staticmethod
    def _base(principal: Principal, base_model: str, plane: ControlPlane) -> UUID:
        """A base model's id from its id or its name (404 for neither)."""
        if ID_LIKE.match(base_model):
            return parse_id("model", base_model)
        row = plane.model_queries.model_by_name(principal.org_hex, base_model)
        if row is not None:
            return UUID(hex=row["id"])
        if not base_model.strip():
            raise NotFoundError("No such base model.", param="base_model")
        return base_model_id(base_model)  # just loaded from the catalog, not yet projected
