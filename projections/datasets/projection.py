"""DatasetsProjection: dataset rows from the Datasets event log."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, select, update

from domain.datasets.dataset import Dataset
from projections.datasets.tables import datasets_table
from projections.sql import upsert
from projections.view import SingleTableView, unix

PROJECTION_NAME = "datasets"


class DatasetsView(SingleTableView):
    projection_name = PROJECTION_NAME
    make_table = staticmethod(datasets_table)


class DatasetsProjection(Projection[DatasetsView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _created(self, event: Dataset.Created, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "org_id": event.org_id.hex,
               "project_id": event.project_id.hex if event.project_id else None,
               "name": event.name, "description": event.description,
               "purpose": event.purpose, "format": event.data_format,
               "metadata": event.metadata, "status": "created",
               "version": event.originator_version, "versions": [],
               "validated_version": None, "report": None, "seq": tracking.notification_id,
               "created_at": unix(event), "updated_at": unix(event)}
        table = self.view.table
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _updated(self, event: Dataset.Updated, tracking: Tracking) -> None:
        self._change(event, tracking, name=event.name, description=event.description,
                     metadata=event.metadata)

    @process_event.register
    def _uploaded(self, event: Dataset.Uploaded, tracking: Tracking) -> None:
        table = self.view.table
        version = {"number": event.number, "sha256": event.sha256, "bytes": event.size,
                   "lines": event.lines, "uploaded_at": int(event.uploaded_at)}

        def write(conn: Connection) -> None:
            versions = conn.execute(select(table.c.versions).where(
                table.c.id == event.originator_id.hex)).scalar() or []
            self._set(conn, event, status="uploaded", versions=[*versions, version],
                      validated_version=None, report=None)

        self.view.record(tracking, write)

    @process_event.register
    def _validation_requested(self, event: Dataset.ValidationRequested,
                              tracking: Tracking) -> None:
        self._change(event, tracking, status="validating")

    @process_event.register
    def _validation_completed(self, event: Dataset.ValidationCompleted,
                              tracking: Tracking) -> None:
        self._change(event, tracking, status="valid" if event.valid else "invalid",
                     validated_version=event.version, report=event.report)

    @process_event.register
    def _deleted(self, event: Dataset.Deleted, tracking: Tracking) -> None:
        self._change(event, tracking, status="deleted")

    def _change(self, event: Any, tracking: Tracking, **values: Any) -> None:
        self.view.record(tracking, lambda conn: self._set(conn, event, **values))

    def _set(self, conn: Connection, event: Any, **values: Any) -> None:
        table = self.view.table
        conn.execute(update(table).where(table.c.id == event.originator_id.hex).values(
            version=event.originator_version, updated_at=unix(event), **values))
