"""TrainingProjection: job rows, their event feed and checkpoints from the Training log.

Every domain event of a job adds one row to the job's event feed (OpenAI's
`fine_tuning.job.event`: level, type "message" or "metrics", message, data), keyed by the
event's notification id, so the feed is ordered and each row is written exactly once.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from sqlalchemy import Connection, Engine, select, update

from domain.training.job import TrainingJob
from projections.signal import ChangeSignal
from projections.sql import upsert
from projections.training.tables import training_tables
from projections.view import SqlView, unix

PROJECTION_NAME = "training"
KIND_NAMES = {"fine_tuning": "fine-tuning", "rl": "RL"}


class TrainingView(SqlView):
    def __init__(self, engine: Engine, generation: int = 1,
                 signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, f"{PROJECTION_NAME}@{generation}", signal)
        self.generation = generation
        self.tables = training_tables(generation)
        self.tables.metadata.create_all(engine, checkfirst=True)

    def drop(self) -> None:
        self.tables.metadata.drop_all(self.engine, checkfirst=True)


def summary(step: int, total_steps: int | None, metrics: dict[str, Any]) -> str:
    progress = f"Step {step}/{total_steps}" if total_steps else f"Step {step}"
    values = ", ".join(f"{name}={value:.4g}" for name, value in sorted(metrics.items()))
    return f"{progress}: {values}" if values else progress


class TrainingProjection(Projection[TrainingView]):
    name = PROJECTION_NAME

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(tracking)

    @process_event.register
    def _created(self, event: TrainingJob.Created, tracking: Tracking) -> None:
        tables = self.view.tables
        row = {"id": event.originator_id.hex, "org_id": event.org_id.hex,
               "project_id": event.project_id.hex if event.project_id else None,
               "kind": event.kind, "model": event.model, "status": "validating_files",
               "spec": event.spec, "hyperparameters": event.spec["resolved_hyperparameters"],
               "metadata": event.metadata, "error": None, "fine_tuned_model": None,
               "trained_tokens": None, "seed": event.seed, "result_files": [], "step": 0,
               "total_steps": None, "created_at": unix(event), "started_at": None,
               "finished_at": None, "version": event.originator_version,
               "seq": tracking.notification_id}
        feed = {"seq": tracking.notification_id, "job_id": row["id"], "org_id": row["org_id"],
                "created_at": unix(event), "level": "info", "type": "message",
                "message": f"Created {KIND_NAMES.get(event.kind, event.kind)} job: "
                           f"{event.originator_id.hex}", "data": {}}

        def write(conn: Connection) -> None:
            upsert(conn, tables.jobs, row, ["id"])
            upsert(conn, tables.events, feed, ["seq"])

        self.view.record(tracking, write)

    @process_event.register
    def _files_validated(self, event: TrainingJob.FilesValidated, tracking: Tracking) -> None:
        self._feed(event, tracking, "Files validated; job queued", job={"status": "queued"})

    @process_event.register
    def _files_rejected(self, event: TrainingJob.FilesRejected, tracking: Tracking) -> None:
        self._feed(event, tracking, str(event.error["message"]), level="error",
                   data=dict(event.error), job={"status": "failed", "error": event.error,
                                                "finished_at": int(event.at)})

    @process_event.register
    def _started(self, event: TrainingJob.Started, tracking: Tracking) -> None:
        self._feed(event, tracking, "Job started",
                   data={"total_steps": event.total_steps,
                         "hyperparameters": event.hyperparameters},
                   job={"status": "running", "total_steps": event.total_steps,
                        "hyperparameters": event.hyperparameters,
                        "started_at": int(event.at)})

    @process_event.register
    def _progress(self, event: TrainingJob.ProgressReported, tracking: Tracking) -> None:
        self._feed(event, tracking, None, kind="metrics",
                   data={"step": event.step, **event.metrics}, job={"step": event.step})

    @process_event.register
    def _checkpoint(self, event: TrainingJob.CheckpointSaved, tracking: Tracking) -> None:
        checkpoints = self.view.tables.checkpoints

        def also(conn: Connection, org_id: str) -> None:
            upsert(conn, checkpoints, {
                "seq": tracking.notification_id, "job_id": event.originator_id.hex,
                "org_id": org_id, "step": event.step, "metrics": event.metrics,
                "file_key": event.file_key, "created_at": unix(event), "at": event.at,
            }, ["seq"])

        self._feed(event, tracking, f"Checkpoint saved at step {event.step}",
                   data={"step": event.step, "file_key": event.file_key,
                         "metrics": event.metrics},
                   job={"step": event.step}, also=also)

    @process_event.register
    def _succeeded(self, event: TrainingJob.Succeeded, tracking: Tracking) -> None:
        self._feed(event, tracking, "The job has successfully completed",
                   data={"fine_tuned_model": event.fine_tuned_model,
                         "trained_tokens": event.trained_tokens},
                   job={"status": "succeeded", "fine_tuned_model": event.fine_tuned_model,
                        "trained_tokens": event.trained_tokens,
                        "result_files": list(event.result_files),
                        "finished_at": int(event.at)})

    @process_event.register
    def _failed(self, event: TrainingJob.Failed, tracking: Tracking) -> None:
        self._feed(event, tracking, str(event.error["message"]), level="error",
                   data=dict(event.error), job={"status": "failed", "error": event.error,
                                                "finished_at": int(event.at)})

    @process_event.register
    def _cancel_requested(self, event: TrainingJob.CancelRequested,
                          tracking: Tracking) -> None:
        self._feed(event, tracking, "Cancellation requested", job={"status": "cancelling"})

    @process_event.register
    def _cancelled(self, event: TrainingJob.Cancelled, tracking: Tracking) -> None:
        self._feed(event, tracking, "Job cancelled",
                   job={"status": "cancelled", "finished_at": int(event.at)})

    def _feed(self, event: Any, tracking: Tracking, message: str | None, *,
              level: str = "info", kind: str = "message", data: dict[str, Any] | None = None,
              job: dict[str, Any], also: Any = None) -> None:
        """Update the job row and add one feed row, in the event's transaction."""
        tables = self.view.tables
        job_id = event.originator_id.hex

        def write(conn: Connection) -> None:
            found = conn.execute(select(tables.jobs.c.org_id, tables.jobs.c.total_steps)
                                 .where(tables.jobs.c.id == job_id)).first()
            if found is None:  # only if the log lost the Created event: never guess a tenant
                raise LookupError(f"training job {job_id} has no row")
            org_id, total_steps = found
            conn.execute(update(tables.jobs).where(tables.jobs.c.id == job_id)
                         .values(version=event.originator_version, **job))
            text = message if message is not None else summary(
                event.step, total_steps, event.metrics)
            upsert(conn, tables.events, {
                "seq": tracking.notification_id, "job_id": job_id, "org_id": org_id,
                "created_at": unix(event), "level": level, "type": kind, "message": text,
                "data": data or {}}, ["seq"])
            if also is not None:
                also(conn, org_id)

        self.view.record(tracking, write)
