"""AuditProjection: each audited event of one log once, filed under its organization.

What an event means for auditors (type, resource, actor, redacted payload) is the application
layer's knowledge; the composition root hands it in as a `Describer`. A creation event names
the aggregate's organization and resource type, which the view keeps for later events; events
of aggregates audit does not show only advance the position.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, Engine, select

from projections.audit.tables import audit_tables
from projections.signal import ChangeSignal
from projections.sql import upsert
from projections.view import SqlView

PROJECTION_NAME = "audit"


class Subject(Protocol):
    @property
    def org_id(self) -> UUID: ...

    @property
    def resource_type(self) -> str: ...


class Entry(Protocol):
    """What the application says about one event (see application.audit.entries)."""

    type: str
    resource_type: str
    resource_id: str
    version: int
    at: datetime
    actor_id: str | None
    actor_kind: str | None
    request_id: str | None
    idempotency_key: str | None
    payload: dict[str, Any]


class Describer(Protocol):
    def subject_of(self, created: Any) -> Subject | None: ...

    def entry_of(self, event: Any, org_id: UUID, resource_type: str) -> Entry: ...


class AuditView(SqlView):
    def __init__(self, name: str, engine: Engine, generation: int = 1,
                 signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, f"{name}@{generation}", signal)
        self.tables = audit_tables(name, generation)
        self.tables.metadata.create_all(engine, checkfirst=True)

    def drop(self) -> None:
        self.tables.metadata.drop_all(self.engine, checkfirst=True)


def audit_view(name: str) -> Any:
    """The view class of the read model `name`, as ReadModels builds views:
    `(engine, generation, signal)`."""

    def make(engine: Engine, generation: int = 1,
             signal: ChangeSignal | None = None) -> AuditView:
        return AuditView(name, engine, generation, signal)

    return make


def at_us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class AuditProjection(Projection[AuditView]):
    name = PROJECTION_NAME

    def __init__(self, view: AuditView, describer: Describer) -> None:
        super().__init__(view)
        self.describer = describer

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        tables = self.view.tables
        aggregate = domain_event.originator_id.hex
        created = getattr(domain_event, "originator_topic", None) is not None

        def write(conn: Connection) -> None:
            subject = self._subject(conn, domain_event, aggregate, created=created)
            if subject is None:
                return
            org_id, resource_type = subject
            entry = self.describer.entry_of(domain_event, UUID(hex=org_id), resource_type)
            upsert(conn, tables.events, {
                "position": tracking.notification_id, "org_id": org_id,
                "at_us": at_us(entry.at), "type": entry.type,
                "resource_type": entry.resource_type, "resource_id": entry.resource_id,
                "resource_version": entry.version, "actor_id": entry.actor_id,
                "actor_kind": entry.actor_kind, "request_id": entry.request_id,
                "idempotency_key": entry.idempotency_key, "payload": entry.payload},
                ["position"])

        self.view.record(tracking, write)

    def _subject(self, conn: Connection, event: Any, aggregate: str, *,
                 created: bool) -> tuple[str, str] | None:
        """(organization hex, resource type) of the event's aggregate, if audited."""
        subjects = self.view.tables.subjects
        if created:
            subject = self.describer.subject_of(event)
            if subject is None:
                return None
            upsert(conn, subjects, {"aggregate_id": aggregate, "org_id": subject.org_id.hex,
                                    "resource_type": subject.resource_type}, ["aggregate_id"])
            return subject.org_id.hex, subject.resource_type
        row = conn.execute(select(subjects.c.org_id, subjects.c.resource_type).where(
            subjects.c.aggregate_id == aggregate)).first()
        return (row[0], row[1]) if row else None
