"""One resource's history straight from the log: each of its events as an audit entry."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

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
