"""`GET /v1/audit/events`: the organization's event history across its resources.

Read from the audit read model (never the log). Each entry is one stored domain event: where
it sits in its log, what it did to which resource (and the version that made), when, who, in
which request, and its fields with anything secret-looking redacted. Newest first; `after`
takes the last `id` of the previous page. Needs `audit:read` and a key for the whole
organization (a project key: 403). Usage records are not listed here: /v1/usage and invoices
trace them.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from domain.shared.errors import ValidationFailedError
from interfaces.control_plane import ControlPlane
from interfaces.http.docs import errors
from interfaces.http.schemas import ListPage, page_of
from interfaces.http.security import Principal, require_scope
from projections.audit.queries import AuditFilter, Cursor

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")]
After = Annotated[str | None, QueryParameter(description="Last id of the previous page.")]


class AuditResource(msgspec.Struct):
    type: str
    id: str
    version: int


class AuditActor(msgspec.Struct):
    id: str | None
    kind: str | None


class AuditEvent(msgspec.Struct):
    object: str
    id: str
    log: str
    position: int
    type: str
    resource: AuditResource
    effective_at: int
    actor: AuditActor
    request_id: str | None
    idempotency_key: str | None
    payload: dict[str, Any]


def event_from_row(row: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        object="audit.event", id=f"{row['log']}:{row['position']}", log=row["log"],
        position=row["position"], type=row["type"],
        resource=AuditResource(type=row["resource_type"], id=row["resource_id"],
                               version=row["resource_version"]),
        effective_at=row["at_us"] // 1_000_000,
        actor=AuditActor(id=row["actor_id"], kind=row["actor_kind"]),
        request_id=row["request_id"], idempotency_key=row["idempotency_key"],
        payload=row["payload"])


def cursor_of(after: str | None) -> Cursor | None:
    if after is None:
        return None
    log, _, position = after.rpartition(":")
    if not log or not position.isdigit():
        raise ValidationFailedError("'after' must be an audit event id like 'events:42'.",
                                    param="after")
    return Cursor(log, int(position))


def micros(seconds: int | None) -> int | None:
    return None if seconds is None else seconds * 1_000_000


class AuditController(Controller):
    path = "/v1/audit/events"
    tags = ["Audit"]

    @get(sync_to_thread=True, operation_id="listAuditEvents",
         summary="The organization's event history, newest first",
         description=__doc__, responses=errors(400, 401, 403))
    def list(self, principal: NamedDependency[Principal], plane: NamedDependency[ControlPlane],
             *, limit: Limit = 20, after: After = None,
             resource_id: Annotated[str | None, QueryParameter(
                 max_length=64, description="A resource's id, e.g. proj_…")] = None,
             resource_type: Annotated[str | None, QueryParameter(
                 max_length=32, description="organization, project, dataset, model, "
                                            "fine_tuning.job, rl.job or deployment.")] = None,
             actor_id: Annotated[str | None, QueryParameter(
                 max_length=100, description="Who acted: user_…, key_… or system.")] = None,
             type: Annotated[str | None, QueryParameter(
                 max_length=100, description="An event type, e.g. project.updated.")] = None,
             start_time: Annotated[int | None, QueryParameter(
                 ge=0, description="Unix seconds, inclusive.")] = None,
             end_time: Annotated[int | None, QueryParameter(
                 ge=0, description="Unix seconds, exclusive.")] = None,
             ) -> ListPage[AuditEvent]:
        require_scope(principal, "audit:read", org_wide=True)
        if start_time is not None and end_time is not None and end_time <= start_time:
            raise ValidationFailedError("'end_time' must be after 'start_time'.",
                                        param="end_time")
        where = AuditFilter(org_id=principal.org_hex, resource_id=resource_id,
                            resource_type=resource_type, actor_id=actor_id, type=type,
                            start_us=micros(start_time), end_us=micros(end_time))
        rows, has_more = plane.audit_queries.events(where, after=cursor_of(after), limit=limit)
        items = [event_from_row(row) for row in rows]
        return page_of(items, [item.id for item in items], has_more)
