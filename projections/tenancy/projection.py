"""TenancyProjection: organizations and projects rows from the Tenancy event log."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, Engine, update

from domain.tenancy.organization import Organization
from domain.tenancy.project import Project
from projections.signal import ChangeSignal
from projections.sql import upsert
from projections.tenancy.tables import tenancy_tables
from projections.view import SqlView, unix

PROJECTION_NAME = "tenancy"
# Announced when an organization's state changes (`SqlTrackingRecorder.announce_topic`): every
# authenticated request checks that state, and its cache would otherwise move on at every
# commit of this projection, which under a write load is every request.
ORGANIZATION_STATES = "tenancy.organization-states"


class TenancyView(SqlView):
    def __init__(self, engine: Engine, generation: int = 1,
                 signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, f"{PROJECTION_NAME}@{generation}", signal)
        self.generation = generation
        self.tables = tenancy_tables(generation)
        self.tables.metadata.create_all(engine, checkfirst=True)

    def drop(self) -> None:
        self.tables.metadata.drop_all(self.engine, checkfirst=True)


class TenancyProjection(Projection[TenancyView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _org_opened(self, event: Organization.Created, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "owner_user_id": event.owner_user_id.hex,
               "name": event.name, "settings": {}, "state": "active",
               "version": event.originator_version, "created_at": unix(event),
               "updated_at": unix(event)}
        table = self.view.tables.organizations
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _org_updated(self, event: Organization.Updated, tracking: Tracking) -> None:
        self._change_org(event, tracking, name=event.name, settings=event.settings)

    @process_event.register
    def _org_deleted(self, event: Organization.Deleted, tracking: Tracking) -> None:
        projects = self.view.tables.projects

        def hide_projects(conn: Connection) -> None:
            conn.execute(update(projects).where(projects.c.org_id == event.originator_id.hex)
                         .values(state="deleted"))

        self._change_org(event, tracking, then=hide_projects, topic=ORGANIZATION_STATES,
                         state="deleted")

    @process_event.register
    def _project_created(self, event: Project.Created, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "org_id": event.org_id.hex, "name": event.name,
               "description": event.description, "metadata": event.metadata,
               "state": "active", "version": event.originator_version,
               "seq": tracking.notification_id, "created_at": unix(event),
               "updated_at": unix(event)}
        table = self.view.tables.projects
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _project_updated(self, event: Project.Updated, tracking: Tracking) -> None:
        self._change_project(event, tracking, name=event.name, description=event.description,
                             metadata=event.metadata)

    @process_event.register
    def _project_deleted(self, event: Project.Deleted, tracking: Tracking) -> None:
        self._change_project(event, tracking, state="deleted")

    def _change_org(self, event: Any, tracking: Tracking, then: Any = None,
                    topic: str | None = None, **values: Any) -> None:
        table = self.view.tables.organizations

        def write(conn: Connection) -> None:
            conn.execute(update(table).where(table.c.id == event.originator_id.hex).values(
                version=event.originator_version, updated_at=unix(event), **values))
            if then is not None:
                then(conn)

        self.view.record(tracking, write, topic=topic)

    def _change_project(self, event: Any, tracking: Tracking, **values: Any) -> None:
        table = self.view.tables.projects
        self.view.record(tracking, lambda conn: conn.execute(
            update(table).where(table.c.id == event.originator_id.hex).values(
                version=event.originator_version, updated_at=unix(event), **values)))
