"""A stored domain event described as an audit entry: what happened, to which resource of
which organization, who did it in which request, and the event's own fields (redacted).

An aggregate's organization and resource type come from its creation event; a later event is
described with them (`subject_of` the creation event, then `entry_of` each event).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from application.audit.redaction import redact
from application.audit.resources import (
    event_type,
    organization_of,
    public_id,
    resource_type,
    split_topic,
)

# The event's identity and metadata: shown beside the payload, not in it.
BOOKKEEPING = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic",
                         "cause", "idempotency_key"})
# Fields the API never shows elsewhere either (replicas' internal addresses).
INTERNAL = {"bitstride.serving.Deployment.ReplicaReady": frozenset({"url"})}
SCALARS = frozenset({str, int, float, bool, type(None)})
CONVERSIONS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (UUID, lambda value: value.hex), (datetime, lambda value: value.isoformat()),
    (Enum, lambda value: jsonable(value.value)), (Decimal, str))


@dataclass(frozen=True)
class Subject:
    """Whose an aggregate is and what it is, as its creation event says."""

    org_id: UUID
    resource_type: str


@dataclass(frozen=True)
class AuditEntry:
    type: str
    resource_type: str
    resource_id: str
    aggregate_id: UUID
    version: int
    org_id: UUID
    at: datetime
    actor_id: str | None
    actor_kind: str | None
    request_id: str | None
    idempotency_key: str | None
    payload: dict[str, Any]

    @property
    def effective_at(self) -> int:
        return int(self.at.timestamp())


def subject_of(created: Any) -> Subject | None:
    """The subject of the aggregate `created` starts; None when audit does not show it."""
    aggregate_topic, _ = split_topic(get_topic(type(created)))
    kind = resource_type(aggregate_topic, created)
    org_id = organization_of(aggregate_topic, created)
    if kind is None or org_id is None:
        return None
    return Subject(org_id, kind)


def entry_of(event: Any, subject: Subject) -> AuditEntry:
    topic = get_topic(type(event))
    cause = getattr(event, "cause", None)
    hidden = BOOKKEEPING | INTERNAL.get(topic, frozenset())
    fields = {name: value for name, value in vars(event).items() if name not in hidden}
    return AuditEntry(
        type=event_type(subject.resource_type, split_topic(topic)[1]),
        resource_type=subject.resource_type,
        resource_id=public_id(subject.resource_type, event.originator_id),
        aggregate_id=event.originator_id, version=event.originator_version,
        org_id=subject.org_id, at=event.timestamp,
        actor_id=getattr(cause, "actor_id", None), actor_kind=getattr(cause, "actor_kind", None),
        request_id=getattr(cause, "request_id", None),
        idempotency_key=getattr(cause, "idempotency_key", None),
        payload=redact(jsonable(fields)))


def jsonable(value: Any) -> Any:
    """Event field values as JSON: ids as hex, times as ISO 8601, decimals as strings."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    if type(value) in SCALARS:  # exactly: a str-valued enum is converted below
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    for kind, convert in CONVERSIONS:
        if isinstance(value, kind):
            return convert(value)
    return str(value)


class EventDescriber:
    """The two steps above as one object, for the audit projection (injected by the
    composition root: projections do not import the application layer)."""

    def subject_of(self, created: Any) -> Subject | None:
        return subject_of(created)

    def entry_of(self, event: Any, org_id: UUID, resource_type: str) -> AuditEntry:
        return entry_of(event, Subject(org_id, resource_type))
