"""UsageProjection: each usage record once, and its quantity added to three buckets.

The record row and the three bucket increments commit with the tracking position, so a record
is counted exactly once however often the runner restarts; a record is bucketed by when the
usage happened (`occurred_at`), not by when it was ingested.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, Engine

from domain.usage.record import UsageRecord
from projections.signal import ChangeSignal
from projections.sql import insert_or_add, upsert
from projections.usage.tables import WIDTHS, usage_tables
from projections.view import SqlView

PROJECTION_NAME = "usage"


class UsageView(SqlView):
    def __init__(self, engine: Engine, generation: int = 1,
                 signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, f"{PROJECTION_NAME}@{generation}", signal)
        self.generation = generation
        self.tables = usage_tables(generation)
        self.tables.metadata.create_all(engine, checkfirst=True)

    def drop(self) -> None:
        self.tables.metadata.drop_all(self.engine, checkfirst=True)


def bucket_start(occurred_at: float, width_seconds: int) -> int:
    return int(occurred_at // width_seconds) * width_seconds


class UsageProjection(Projection[UsageView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _recorded(self, event: UsageRecord.Created, tracking: Tracking) -> None:
        tables = self.view.tables
        dimensions = {"org_id": event.org_id.hex,
                      "project_id": event.project_id.hex if event.project_id else "",
                      "meter": event.meter, "model": event.model or "",
                      "api_key_id": event.api_key_id or ""}
        record = {"id": event.originator_id.hex, "seq": tracking.notification_id,
                  **dimensions, "quantity": event.quantity,
                  "deployment_id": event.deployment_id or "",
                  "source_kind": event.source_kind, "source_id": event.source_id,
                  "occurred_at": event.occurred_at}

        def write(conn: Connection) -> None:
            upsert(conn, tables.records, record, ["id"])
            for width, seconds in WIDTHS.items():
                insert_or_add(conn, tables.buckets, {
                    **dimensions, "width": width,
                    "start": bucket_start(event.occurred_at, seconds),
                    "quantity": event.quantity, "records": 1},
                    keys=["org_id", "width", "start", "project_id", "meter", "model",
                          "api_key_id"], add=["quantity", "records"])

        self.view.record(tracking, write)
