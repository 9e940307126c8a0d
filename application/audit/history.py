"""One resource's history straight from the log: each of its events as an audit entry."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from application.audit.entries import AuditEntry, entry_of, subject_of


def history(app: Application[UUID], aggregate_id: UUID, public: str) -> list[AuditEntry]:
    """Every event of the aggregate, oldest first; empty when the log holds no audited
    resource with this public id (unknown id, or an id of another type)."""
    events = list(app.events.get(aggregate_id))
    subject = subject_of(events[0]) if events else None
    if subject is None:
        return []
    entries = [entry_of(event, subject) for event in events]
    return entries if entries[0].resource_id == public else []


def replayed(app: Application[UUID], aggregate_id: UUID, version: int) -> Any:
    """The aggregate rebuilt from its events alone, up to `version`. An audit trusts the
    chained log, not the snapshots stored beside it (they are not chained)."""
    aggregate = None
    events: list[Any] = list(app.events.get(aggregate_id, lte=version))
    for event in events:
        aggregate = event.mutate(aggregate)
    if aggregate is None:
        raise AggregateNotFoundError(aggregate_id)
    return aggregate
