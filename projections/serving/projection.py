"""DeploymentsProjection: deployment rows from the Serving event log.

Each event carries the deployment's observed status after it, so a row never derives one; a
replica event moves the row's replica by the same rules the aggregate applied
(domain/serving/replicas.py), so the row's replicas equal the aggregate's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, select, update

from domain.serving import replicas as rules
from domain.serving.deployment import Deployment
from domain.serving.replicas import Replica
from projections.serving.tables import deployments_table
from projections.sql import upsert
from projections.view import SingleTableView, unix

PROJECTION_NAME = "deployments"


class DeploymentsView(SingleTableView):
    projection_name = PROJECTION_NAME
    make_table = staticmethod(deployments_table)


class DeploymentsProjection(Projection[DeploymentsView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _created(self, event: Deployment.Created, tracking: Tracking) -> None:
        row = {"id": event.originator_id.hex, "org_id": event.org_id.hex,
               "project_id": event.project_id.hex if event.project_id else None,
               "name": event.name, "model": event.model, "backend": event.backend,
               "upstream_url": event.upstream_url, "desired_state": "running",
               "status": "creating", "min_replicas": event.min_replicas,
               "max_replicas": event.max_replicas, "replicas": {}, "error": None,
               "failed_at": None, "metadata": event.metadata, "created_at": unix(event),
               "updated_at": unix(event), "version": event.originator_version,
               "seq": tracking.notification_id}
        table = self.view.table
        self.view.record(tracking, lambda conn: upsert(conn, table, row, ["id"]))

    @process_event.register
    def _updated(self, event: Deployment.Updated, tracking: Tracking) -> None:
        self._change(event, tracking, min_replicas=event.min_replicas,
                     max_replicas=event.max_replicas, status=event.status)

    @process_event.register
    def _start_requested(self, event: Deployment.StartRequested, tracking: Tracking) -> None:
        self._change(event, tracking, desired_state="running", min_replicas=event.min_replicas,
                     max_replicas=event.max_replicas, status=event.status, error=None,
                     failed_at=None)

    @process_event.register
    def _stop_requested(self, event: Deployment.StopRequested, tracking: Tracking) -> None:
        self._change(event, tracking, desired_state="stopped", min_replicas=event.min_replicas,
                     max_replicas=event.max_replicas, status=event.status)

    @process_event.register
    def _replica_starting(self, event: Deployment.ReplicaStarting, tracking: Tracking) -> None:
        self._replica(event, tracking, lambda current: rules.starting(
            current, event.replica_id, event.at))

    @process_event.register
    def _replica_ready(self, event: Deployment.ReplicaReady, tracking: Tracking) -> None:
        self._replica(event, tracking, lambda current: rules.ready(
            current, event.replica_id, event.url, event.at))

    @process_event.register
    def _replica_failed(self, event: Deployment.ReplicaFailed, tracking: Tracking) -> None:
        self._replica(event, tracking, lambda current: rules.failed(
            current, event.replica_id, event.reason, event.at))

    @process_event.register
    def _replica_stopped(self, event: Deployment.ReplicaStopped, tracking: Tracking) -> None:
        self._replica(event, tracking, lambda current: rules.stopped(
            current, event.replica_id, event.at))

    @process_event.register
    def _failed(self, event: Deployment.Failed, tracking: Tracking) -> None:
        self._change(event, tracking, status="failed", error=dict(event.error),
                     failed_at=int(event.at))

    def _replica(self, event: Any, tracking: Tracking,
                 move: Callable[[Replica | None], Replica | None]) -> None:
        table = self.view.table

        def write(conn: Connection) -> None:
            stored = conn.execute(select(table.c.replicas).where(
                table.c.id == event.originator_id.hex)).scalar()
            if stored is None:  # only if the log lost the Created event: never guess a row
                raise LookupError(f"deployment {event.originator_id.hex} has no row")
            replicas = dict(stored)
            current = replicas.get(event.replica_id)
            after = move(None if current is None else Replica.from_dict(current))
            if after is not None:  # always: the aggregate recorded a move forward
                replicas[after.id] = after.as_dict()
            self._set(conn, event, replicas=replicas, status=event.status)

        self.view.record(tracking, write)

    def _change(self, event: Any, tracking: Tracking, **values: Any) -> None:
        self.view.record(tracking, lambda conn: self._set(conn, event, **values))

    def _set(self, conn: Connection, event: Any, **values: Any) -> None:
        table = self.view.table
        conn.execute(update(table).where(table.c.id == event.originator_id.hex).values(
            version=event.originator_version, updated_at=unix(event), **values))
