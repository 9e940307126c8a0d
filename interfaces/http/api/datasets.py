"""Datasets: commands go to the Datasets application, reads come from the projection."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.datasets.service import NewDataset, UploadedContent
from domain.datasets.dataset import Dataset as DatasetAggregate
from domain.datasets.dataset import ModelTarget
from domain.datasets.status import require
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError
from domain.shared.ids import parse_id
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, expected_version, fingerprint
from interfaces.http.dataset_presenter import dataset_from_aggregate, dataset_from_row
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError
from interfaces.http.memory_first import memory_first
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.schemas import (
    CreateDatasetRequest,
    Dataset,
    Deleted,
    ListPage,
    UpdateDatasetRequest,
    ValidateDatasetRequest,
    page_of,
)
from interfaces.http.security import Principal, owning_project, require_scope
from interfaces.http.upload import content_length, file_chunks, store_stream

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]
Purpose = Annotated[str | None, QueryParameter(description="fine_tuning or rl.")]
MULTIPART = "multipart/form-data"


def _written(dataset: DatasetAggregate, status: int = 200) -> Response[Dataset]:
    return Response(dataset_from_aggregate(dataset), status_code=status,
                    headers=etag(dataset.version))


class DatasetsController(Controller):
    path = "/v1/datasets"
    tags = ["Datasets"]

    @post(sync_to_thread=True, operation_id="createDataset", summary="Create a dataset",
          responses=errors(400, 401, 403, 404, 409), status_code=201)
    def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateDatasetRequest],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Dataset]:
        require_scope(principal, "datasets:write")
        project = owning_project(principal, data.project_id, plane.queries)
        new = NewDataset(project_id=project, name=data.name, description=data.description,
                         purpose=data.purpose, data_format=data.format, metadata=data.metadata)
        outcome = plane.datasets.create_dataset(principal.org_id, new,
                                                request_fingerprint=fingerprint(data),
                                                cause=cause_for(request, principal))
        plane.await_projections(plane.datasets.name, outcome.position)
        return _written(outcome.aggregate, 201)

    @get(operation_id="listDatasets", summary="List datasets, newest first",
         responses=errors(400, 401, 403, 404))
    async def list(self, principal: NamedDependency[Principal],
                   plane: NamedDependency[ControlPlane], limit: Limit = 20, after: After = None,
                   purpose: Purpose = None) -> ListPage[Dataset]:
        return await memory_first(partial(self._page, principal, plane, limit, after, purpose))

    @staticmethod
    def _page(principal: Principal, plane: ControlPlane, limit: int, after: str | None,
              purpose: str | None) -> ListPage[Dataset]:
        require_scope(principal, "datasets:read")
        project = principal.project_id.hex if principal.project_id else None
        items, has_more = plane.dataset_queries.datasets(
            principal.org_hex, after=parse_id("ds", after).hex if after else None, limit=limit,
            purpose=purpose, project_id=project, present=dataset_from_row)
        return page_of(items, [item.id for item in items], has_more)

    @get("/{dataset_id:str}", sync_to_thread=True, operation_id="getDataset",
         summary="Get a dataset, its versions and its validation report",
         description=POINT_IN_TIME, responses=errors(400, 401, 403, 404))
    def retrieve(self, dataset_id: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[Dataset]:
        require_scope(principal, "datasets:read")
        when = point_in_time(as_of, version)
        if when is not None:
            return _written(load_at(
                plane.datasets, DatasetAggregate, parse_id("ds", dataset_id), when,
                what="dataset", visible=lambda dataset: dataset.org_id == principal.org_id
                and self._visible(principal, dataset.project_id.hex if dataset.project_id
                                  else None)))
        row = plane.dataset_queries.dataset(principal.org_hex, parse_id("ds", dataset_id).hex)
        if row is None or not self._visible(principal, row["project_id"]):
            raise NotFoundError(f"No such dataset: {dataset_id!r}.")
        return Response(dataset_from_row(row), headers=etag(row["version"]))

    @put("/{dataset_id:str}", sync_to_thread=True, operation_id="updateDataset",
         summary="Rename or describe a dataset (If-Match makes it conditional)",
         responses=errors(400, 401, 403, 404, 409, 412))
    def update(self, request: Request[Any, Any, Any], dataset_id: FromPath[str],
               data: JSONBody[UpdateDatasetRequest], principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Response[Dataset]:
        require_scope(principal, "datasets:write")
        dataset = self._dataset(principal, dataset_id, plane)
        outcome = plane.datasets.update_dataset(
            principal.org_id, dataset.id, name=data.name, description=data.description,
            metadata=data.metadata, expected_version=expected_version(request),
            cause=cause_for(request, principal))
        plane.await_projections(plane.datasets.name, outcome.position)
        return _written(outcome.aggregate)

    @delete("/{dataset_id:str}", sync_to_thread=True, operation_id="deleteDataset",
            status_code=200, summary="Delete a dataset (its versions stay in the history)",
            responses=errors(401, 403, 404, 409, 412))
    def remove(self, request: Request[Any, Any, Any], dataset_id: FromPath[str],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> Deleted:
        require_scope(principal, "datasets:write")
        dataset = self._dataset(principal, dataset_id, plane)
        outcome = plane.datasets.delete_dataset(
            principal.org_id, dataset.id, expected_version=expected_version(request),
            cause=cause_for(request, principal))
        plane.await_projections(plane.datasets.name, outcome.position)
        return Deleted(id=dataset_id, object="dataset.deleted", deleted=True)

    @post("/{dataset_id:str}/upload", operation_id="uploadDataset", status_code=201,
          request_max_body_size=None,
          summary="Upload a new version: multipart form field `file`, or a raw JSONL body",
          description="Streamed to storage in constant memory; each distinct content is a new, "
                      "immutable version (SHA-256 content address). Larger than "
                      "DATASET_MAX_BYTES: 413.",
          responses=errors(400, 401, 403, 404, 409, 413))
    async def upload(self, request: Request[Any, Any, Any], dataset_id: FromPath[str],
                     principal: NamedDependency[Principal],
                     plane: NamedDependency[ControlPlane]) -> Response[Dataset]:
        require_scope(principal, "datasets:write")
        target = parse_id("ds", dataset_id)
        dataset = await _run(self._dataset, principal, dataset_id, plane)
        require(dataset.status, "upload")  # 404 or 409 before reading a byte
        limit = plane.settings.max_upload_bytes
        length = content_length(request.headers)
        if length is not None and length > limit + 64 * 1024:  # room for multipart framing
            raise ApiError(413, "request_too_large", f"Uploads are limited to {limit} bytes.")
        chunks = await _body_chunks(request)
        stored = await store_stream(chunks, plane.object_store, f"datasets/{target.hex}", limit)
        content = UploadedContent(sha256=stored.sha256, size=stored.size, lines=stored.lines,
                                  object_key=stored.key)
        cause = cause_for(request, principal)
        outcome = await _run(_record_or_discard, plane, principal.org_id, target, content, cause)
        await _run(plane.await_projections, plane.datasets.name, outcome.position)
        return _written(outcome.aggregate, 201)

    @post("/{dataset_id:str}/validate", sync_to_thread=True, operation_id="validateDataset",
          status_code=202, summary="Validate the current version (the worker does the work)",
          description="The dataset turns `validating`, then `valid` or `invalid` with a report.",
          responses=errors(400, 401, 403, 404, 409))
    def validate(self, request: Request[Any, Any, Any], dataset_id: FromPath[str],
                 principal: NamedDependency[Principal], plane: NamedDependency[ControlPlane],
                 data: JSONBody[ValidateDatasetRequest | None] = None) -> Response[Dataset]:
        require_scope(principal, "datasets:write")
        dataset = self._dataset(principal, dataset_id, plane)
        target = _model_target(principal, data.model if data else None, plane)
        outcome = plane.datasets.request_validation(principal.org_id, dataset.id,
                                                    cause=cause_for(request, principal),
                                                    target=target)
        plane.await_projections(plane.datasets.name, outcome.position)
        return _written(outcome.aggregate, 202)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _visible(principal: Principal, project_hex: str | None) -> bool:
        return principal.project_id is None or principal.project_id.hex == project_hex

    def _dataset(self, principal: Principal, dataset_id: str,
                 plane: ControlPlane) -> DatasetAggregate:
        dataset = plane.datasets.dataset(principal.org_id, parse_id("ds", dataset_id))
        project = dataset.project_id.hex if dataset.project_id else None
        if not self._visible(principal, project):
            raise NotFoundError(f"No such dataset: {dataset_id!r}.")
        return dataset



def _model_target(principal: Principal, model: str | None,
                  plane: ControlPlane) -> ModelTarget | None:
    """The named model's limits, for counting tokens against its context length."""
    if model is None:
        return None
    row = plane.model_queries.resolve(principal.org_hex, model)
    if row is None:
        raise NotFoundError(f"No such model: {model!r}.", param="model")
    return ModelTarget(model=f"model_{row['id']}", context_length=row["context_length"],
                       tokenizer=row["tokenizer"])


def _record_or_discard(plane: ControlPlane, org_id: UUID, dataset_id: UUID,
                       content: UploadedContent, cause: Cause) -> Any:
    """Record the stored file as a version; if that is refused, keep no orphan object."""
    try:
        outcome, _ = plane.datasets.record_upload(org_id, dataset_id, content, now=time.time(),
                                                  cause=cause)
    except Exception:
        dataset = plane.datasets.get_or_none(dataset_id)
        versions = dataset.versions if isinstance(dataset, DatasetAggregate) else ()
        if all(version.object_key != content.object_key for version in versions):
            plane.object_store.delete(content.object_key)
        raise
    return outcome


async def _run(function: Any, *args: Any) -> Any:
    """A blocking application call, off the event loop."""
    return await anyio.to_thread.run_sync(function, *args)


async def _body_chunks(request: Request[Any, Any, Any]) -> Any:
    """The upload's bytes: the form's `file` field, or the raw body."""
    if request.content_type[0] == MULTIPART:
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "invalid_request", "Send the file in the form field 'file'.",
                           param="file")
        return file_chunks(upload.file)
    return request.stream()
