"""OpenAI's inference routes, served by the gateway in both runtime modes.

`POST /v1/chat/completions`, `POST /v1/completions` and `POST /v1/embeddings` take OpenAI's
bodies and answer OpenAI's responses (streams as server-sent events): the gateway forwards
them to a ready replica of the deployment serving the `model` (interfaces/http/gateway/).
In gateway mode, `GET /v1/models` (and `GET /v1/models/{model}`) list the models the caller's
API key can reach through a ready deployment, by name, as OpenAI's clients expect; full mode
keeps the models registry's own `GET /v1/models` (every model, by id).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from domain.identity.scopes import grants
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError
from interfaces.http.gateway.proxy import Gateway
from interfaces.http.gateway.request_docs import (
    CHAT_COMPLETION_OPERATION,
    COMPLETION_OPERATION,
    EMBEDDING_OPERATION,
)
from interfaces.http.gateway.requests import CHAT_COMPLETIONS, COMPLETIONS, EMBEDDINGS
from interfaces.http.gateway.routing import ModelRoute
from interfaces.http.security import Principal, insufficient_scope

_ERRORS = errors(400, 401, 403, 404, 413, 429, 502, 503, 504)
_BODY = ("OpenAI's request body, forwarded as it is except `model` (set to the name the "
         "replicas serve) and, for streams, `stream_options.include_usage` (always asked of "
         "the replica; its usage chunk reaches the client only if the client asked for it).")


@post("/v1/chat/completions", status_code=200, operation_id="createChatCompletion",
      tags=["Inference"], summary="Chat completion from a deployed model (stream: SSE)",
      description=_BODY, responses=_ERRORS, operation_class=CHAT_COMPLETION_OPERATION)
async def chat_completions(request: Request[Any, Any, Any],
                           gateway: NamedDependency[Gateway]) -> Response[Any]:
    return await gateway.handle(request, CHAT_COMPLETIONS)


@post("/v1/completions", status_code=200, operation_id="createCompletion", tags=["Inference"],
      summary="Text completion from a deployed model (stream: SSE)", description=_BODY,
      responses=_ERRORS, operation_class=COMPLETION_OPERATION)
async def completions(request: Request[Any, Any, Any],
                      gateway: NamedDependency[Gateway]) -> Response[Any]:
    return await gateway.handle(request, COMPLETIONS)


@post("/v1/embeddings", status_code=200, operation_id="createEmbedding", tags=["Inference"],
      summary="Embeddings from a deployed model, when its server computes them",
      description=_BODY, responses=_ERRORS, operation_class=EMBEDDING_OPERATION)
async def embeddings(request: Request[Any, Any, Any],
                     gateway: NamedDependency[Gateway]) -> Response[Any]:
    return await gateway.handle(request, EMBEDDINGS)


INFERENCE_HANDLERS = [chat_completions, completions, embeddings]


# -- gateway mode: the models a key can call ----------------------------------------------


class ServedModel(msgspec.Struct):
    id: str  # the model's name: what `model` takes (its `model_…` id works too)
    object: str
    created: int
    owned_by: str  # "bitstride" for a base model, else the organization's id


class ServedModelList(msgspec.Struct):
    object: str
    data: list[ServedModel]


def _served(route: ModelRoute) -> ServedModel:
    return ServedModel(id=route.name, object="model", created=route.created_at,
                       owned_by=route.owned_by)


async def _caller(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    principal = await gateway.authenticate(request)
    if not (grants(principal.scopes, "inference:read")
            or grants(principal.scopes, "models:read")):
        raise insufficient_scope("inference:read")
    return principal


def _project(principal: Principal) -> str | None:
    return principal.project_id.hex if principal.project_id else None


@get("/v1/models", operation_id="listServedModels", tags=["Inference"],
     summary="The models this key can call: served by a ready deployment",
     responses=errors(401, 403))
async def served_models(request: Request[Any, Any, Any],
                        gateway: NamedDependency[Gateway]) -> ServedModelList:
    principal = await _caller(request, gateway)
    routes = gateway.routing.snapshot.models_of(principal.org_hex, _project(principal))
    return ServedModelList(object="list", data=[_served(route) for route in routes])


@get("/v1/models/{model:path}", operation_id="retrieveServedModel", tags=["Inference"],
     summary="One model this key can call, by name or id", responses=errors(401, 403, 404))
async def served_model(request: Request[Any, Any, Any], model: FromPath[str],
                       gateway: NamedDependency[Gateway]) -> ServedModel:
    principal = await _caller(request, gateway)
    reference = model.lstrip("/")
    route = gateway.routing.snapshot.lookup(principal.org_hex, reference)
    if route is None or not route.reachable(_project(principal)):
        raise ApiError(404, "model_not_found", f"The model `{reference[:200]}` does not exist "
                       "or is not deployed for you.", param="model")
    return _served(route)


GATEWAY_MODEL_HANDLERS = [served_models, served_model]
