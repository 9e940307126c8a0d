"""ModelsProjection: model rows from the Models event log (name claims are skipped)."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, update

from domain.catalog.model import Model
from projections.models.tables import models_table
from projections.sql import upsert
from projections.view import SingleTableView, unix

PROJECTION_NAME = "models"


class ModelsView(SingleTableView):
    projection_name = PROJECTION_NAME
    make_table = staticmethod(models_table)


class ModelsProjection(Projection[ModelsView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _created(self, event: Model.Created, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "kind": event.kind,
               "org_id": event.org_id.hex if event.org_id else None, "name": event.name,
               "description": event.description, "context_length": event.context_length,
               "tokenizer": event.tokenizer, "capabilities": event.capabilities,
               "weights_uri": event.weights_uri, "lineage": event.lineage,
               "metadata": event.metadata, "status": "active",
               "version": event.originator_version, "seq": tracking.notification_id,
               "created_at": unix(event), "updated_at": unix(event)}
        table = self.view.table
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _updated(self, event: Model.Updated, tracking: Tracking) -> None:
        self._change(event, tracking, name=event.name, description=event.description,
                     metadata=event.metadata, context_length=event.context_length,
                     tokenizer=event.tokenizer, capabilities=event.capabilities)

    @process_event.register
    def _deleted(self, event: Model.Deleted, tracking: Tracking) -> None:
        self._change(event, tracking, status="deleted")

    def _change(self, event: Any, tracking: Tracking, **values: Any) -> None:
        self.view.record(tracking, lambda conn: self._set(conn, event, **values))

    def _set(self, conn: Connection, event: Any, **values: Any) -> None:
        table = self.view.table
        conn.execute(update(table).where(table.c.id == event.originator_id.hex).values(
            version=event.originator_version, updated_at=unix(event), **values))
