"""The routes both job kinds share: list, get, cancel, events, checkpoints, and create's
plumbing. `/v1/fine_tuning/jobs` and `/v1/rl/jobs` subclass the controller and add create.

Commands go to the Training application; reads come from the training projection. A job of
another organization, of the other kind, or (for a project key) of another project does not
exist: 404 on every route.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from application.training.service import NewJob
from domain.shared.errors import NotFoundError, ValidationFailedError
from domain.shared.ids import parse_id
from domain.training.job import TrainingJob as JobAggregate
from interfaces.control_plane import ControlPlane
from interfaces.http.commands import cause_for, etag, fingerprint
from interfaces.http.docs import errors
from interfaces.http.errors import ApiError
from interfaces.http.job_event_stream import KEEPALIVE_SECONDS, job_event_stream
from interfaces.http.memory_first import memory_first
from interfaces.http.point_in_time import POINT_IN_TIME, AsOf, Version, load_at, point_in_time
from interfaces.http.schemas import ListPage, page_of
from interfaces.http.security import Principal, require_scope
from interfaces.http.training_presenter import (
    CHECKPOINT_PREFIX,
    EVENT_PREFIX,
    JobKind,
    checkpoint_from_row,
    event_from_row,
    job_from_row,
    presenter_of,
    row_of,
)
from interfaces.http.training_schemas import JobCheckpoint, JobEvent, TrainingJob

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]
Stream = Annotated[bool, QueryParameter(
    description="Answer `text/event-stream`: the job's events oldest first, live, then "
                "`done`.")]
LastEventId = Annotated[str | None, HeaderParameter(
    name="Last-Event-ID", description="With `stream=true`: resume after this event id "
                                      "(`ftevent_123`); wins over `after`.")]

EVENTS_DESCRIPTION = f"""\
A page of the job's events, newest first (`after`: the last id of the previous page).

With `stream=true` the answer is `text/event-stream` (server-sent events) instead: every event
of the job oldest first, after the `Last-Event-ID` header's event (or `after`'s, the same
cursor; neither: from the start), then new events as they are recorded. Each message has
`id: ftevent_N`, `event: message` or `event: metrics` (the event's `type`) and, as `data`,
the event object this list returns. After {KEEPALIVE_SECONDS:g} s without one, a
`: keep-alive` comment. Once the job is succeeded, failed or cancelled and every event up to
then was sent, a last `event: done` message carries the job object and the stream ends.
A reconnecting client sends `Last-Event-ID` and misses nothing. Errors (auth, 404, a
malformed `Last-Event-ID`: 400) are answered as JSON before the stream starts.
"""


@dataclass
class EventsOperation(Operation):
    """The events route's 200 is a list page or, with `stream=true`, an event stream."""

    def __post_init__(self) -> None:
        ok = self.responses.get("200") if self.responses else None
        if isinstance(ok, OpenAPIResponse):
            ok.description = "A page of events, or with `stream=true` server-sent events."
            page = (ok.content or {}).get("application/json")
            if page is not None and isinstance(page.schema, Schema) and page.schema.one_of:
                # The return annotation's union: the JSON body is only ever the page.
                page.schema = page.schema.one_of[0]
            ok.content = {**(ok.content or {}), "text/event-stream": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.STRING,
                description="Server-sent events: `id: ftevent_N`, `event: message|metrics|"
                            "done`, `data: <event or, for done, job JSON>`."))}


def operation(verb: str, suffix: str = "") -> Callable[..., str]:
    """An OpenAPI operation id per route prefix, e.g. listFineTuningJobs, listRlJobEvents
    (from the path's second part: `/v1/fine_tuning/jobs`, `/v1/rl/jobs`)."""

    def operation_id(_handler: Any, _method: Any, path: list[Any]) -> str:
        kind = "".join(part.title() for part in str(path[1]).split("_"))
        return f"{verb}{kind}Job{suffix}"

    return operation_id


def dataset_id(value: str, param: str) -> UUID:
    """A `ds_…` id from the body: malformed is a 400 naming the field, like unknown."""
    try:
        return parse_id("ds", value)
    except NotFoundError:
        raise ValidationFailedError(f"No such dataset for '{param}'.", param=param) from None


def cursor(prefix: str, after: str | None) -> int | None:
    """The number in an event or checkpoint id (`ftevent_42`)."""
    if after is None:
        return None
    head, _, number = after.partition("_")
    if head != prefix or not number.isdigit():
        raise ApiError(400, "invalid_request", f"'after' must be an id like {prefix}_123.",
                       param="after")
    return int(number)


def stream_cursor(last_event_id: str) -> int:
    """The seq in a `Last-Event-ID` header (`ftevent_42`)."""
    head, _, number = last_event_id.strip().partition("_")
    if head != EVENT_PREFIX or not number.isdigit():
        raise ApiError(400, "invalid_request",
                       f"'Last-Event-ID' must be an event id like {EVENT_PREFIX}_123.",
                       param="Last-Event-ID")
    return int(number)


class TrainingJobsController(Controller):
    job_kind: ClassVar[JobKind]

    # -- create, for the subclasses ---------------------------------------------------------

    def create_job(self, request: Request[Any, Any, Any], body: msgspec.Struct, new: NewJob,
                   principal: Principal, plane: ControlPlane) -> TrainingJob:
        require_scope(principal, f"{self.job_kind.kind}:write")
        self._check_project_datasets(principal, plane, new)
        outcome = plane.training.create_job(principal.org_id, new,
                                            request_fingerprint=fingerprint(body),
                                            cause=cause_for(request, principal))
        plane.await_projections(plane.training.name, outcome.position)
        return job_from_row(self.job_kind, row_of(outcome.aggregate))


    @staticmethod
    def _check_project_datasets(principal: Principal, plane: ControlPlane, new: NewJob) -> None:
        """A project key trains only on its project's datasets (others do not exist)."""
        if principal.project_id is None:
            return
        files = {"training_file": new.training_file,
                 "validation_file": getattr(new, "validation_file", None)}
        for param, file_id in files.items():
            if file_id is None:
                continue
            try:
                dataset = plane.datasets.dataset(principal.org_id, file_id)
            except NotFoundError:
                continue  # the service names it
            if dataset.project_id != principal.project_id:
                raise ValidationFailedError(f"No such dataset for '{param}'.", param=param)

    # -- shared routes ----------------------------------------------------------------------

    @get(operation_id=operation("list", "s"),
         summary="List jobs, newest first", responses=errors(400, 401, 403, 404))
    async def list(self, principal: NamedDependency[Principal],
                   plane: NamedDependency[ControlPlane], limit: Limit = 20,
                   after: After = None) -> ListPage[TrainingJob]:
        return await memory_first(partial(self._page, principal, plane, limit, after))

    def _page(self, principal: Principal, plane: ControlPlane, limit: int,
              after: str | None) -> ListPage[TrainingJob]:
        require_scope(principal, f"{self.job_kind.kind}:read")
        items, has_more = plane.training_queries.jobs(
            principal.org_hex, kind=self.job_kind.kind,
            after=parse_id(self.job_kind.prefix, after).hex if after else None, limit=limit,
            project_id=principal.project_id.hex if principal.project_id else None,
            present=presenter_of(self.job_kind))
        return page_of(items, [item.id for item in items], has_more)

    @get("/{job_id:str}", sync_to_thread=True, operation_id=operation("get"),
         summary="Get a job", description=POINT_IN_TIME, responses=errors(400, 401, 403, 404))
    def retrieve(self, job_id: FromPath[str], principal: NamedDependency[Principal],
                 plane: NamedDependency[ControlPlane], as_of: AsOf = None,
                 version: Version = None) -> Response[TrainingJob]:
        require_scope(principal, f"{self.job_kind.kind}:read")
        when = point_in_time(as_of, version)
        if when is not None:
            then = load_at(plane.training, JobAggregate, self._job_id(job_id), when, what="job",
                           visible=lambda job: job.org_id == principal.org_id
                           and job.kind == self.job_kind.kind
                           and self._visible(principal, job.project_id))
            return Response(job_from_row(self.job_kind, row_of(then)),
                            headers=etag(then.version))
        return Response(job_from_row(self.job_kind, self._row(principal, plane, job_id)))

    @post("/{job_id:str}/cancel", sync_to_thread=True, status_code=200,
          operation_id=operation("cancel"),
          summary="Cancel a job: at once before it runs, else when its executor stops",
          responses=errors(401, 403, 404, 409))
    def cancel(self, request: Request[Any, Any, Any], job_id: FromPath[str],
               principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane]) -> TrainingJob:
        require_scope(principal, f"{self.job_kind.kind}:write")
        target = self._job_id(job_id)
        job = plane.training.job(principal.org_id, target)
        if job.kind != self.job_kind.kind or not self._visible(principal, job.project_id):
            raise NotFoundError(f"No such job: {job_id!r}.")
        outcome = plane.training.cancel(principal.org_id, target, at=time.time(),
                                        cause=cause_for(request, principal))
        plane.await_projections(plane.training.name, outcome.position)
        return job_from_row(self.job_kind, row_of(outcome.aggregate))

    @get("/{job_id:str}/events", sync_to_thread=True, operation_id=operation("list", "Events"),
         summary="A job's events, newest first; or followed live as server-sent events",
         description=EVENTS_DESCRIPTION, operation_class=EventsOperation,
         responses=errors(400, 401, 403, 404))
    def events(self, job_id: FromPath[str], principal: NamedDependency[Principal],
               plane: NamedDependency[ControlPlane], *, limit: Limit = 20,
               after: After = None, stream: Stream = False,
               last_event_id: LastEventId = None) -> ListPage[JobEvent] | ServerSentEvent:
        require_scope(principal, f"{self.job_kind.kind}:read")
        row = self._row(principal, plane, job_id)
        if stream:  # every check above is done: errors are still JSON envelopes
            since = stream_cursor(last_event_id) if last_event_id and last_event_id.strip() \
                else cursor(EVENT_PREFIX, after)
            # The header: a handler's JSON media type would otherwise win over the stream's.
            return ServerSentEvent(job_event_stream(
                plane.training_queries, plane.tracking_signal, self.job_kind,
                org_hex=principal.org_hex, job_hex=row["id"], after=since,
                draining=plane.draining),
                headers={"content-type": "text/event-stream; charset=utf-8"})
        rows, has_more = plane.training_queries.events(
            principal.org_hex, row["id"], after=cursor(EVENT_PREFIX, after), limit=limit)
        items = [event_from_row(self.job_kind, event) for event in rows]
        return page_of(items, [item.id for item in items], has_more)

    @get("/{job_id:str}/checkpoints", sync_to_thread=True,
         operation_id=operation("list", "Checkpoints"),
         summary="A job's checkpoints, newest first", responses=errors(400, 401, 403, 404))
    def checkpoints(self, job_id: FromPath[str], principal: NamedDependency[Principal],
                    plane: NamedDependency[ControlPlane], limit: Limit = 10,
                    after: After = None) -> ListPage[JobCheckpoint]:
        require_scope(principal, f"{self.job_kind.kind}:read")
        row = self._row(principal, plane, job_id)
        rows, has_more = plane.training_queries.checkpoints(
            principal.org_hex, row["id"], after=cursor(CHECKPOINT_PREFIX, after), limit=limit)
        items = [checkpoint_from_row(self.job_kind, checkpoint) for checkpoint in rows]
        return page_of(items, [item.id for item in items], has_more)

    # -- helpers ----------------------------------------------------------------------------

    def _job_id(self, job_id: str) -> UUID:
        return parse_id(self.job_kind.prefix, job_id)

    @staticmethod
    def _visible(principal: Principal, project_id: UUID | str | None) -> bool:
        if principal.project_id is None:
            return True
        project_hex = project_id.hex if isinstance(project_id, UUID) else project_id
        return principal.project_id.hex == project_hex

    def _row(self, principal: Principal, plane: ControlPlane, job_id: str) -> dict[str, Any]:
        row = plane.training_queries.job(principal.org_hex, self._job_id(job_id).hex)
        if row is None or row["kind"] != self.job_kind.kind \
                or not self._visible(principal, row["project_id"]):
            raise NotFoundError(f"No such job: {job_id!r}.")
        return row
