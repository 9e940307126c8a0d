"""The jobs, job_events and checkpoints tables; one set per projection generation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)


@dataclass(frozen=True)
class TrainingTables:
    metadata: MetaData
    jobs: Table
    events: Table
    checkpoints: Table


def training_tables(generation: int) -> TrainingTables:
    metadata = MetaData()
    jobs = Table(
        f"training_jobs_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("project_id", String(32), nullable=True),
        Column("kind", String(16), nullable=False),
        Column("model", String(256), nullable=False),
        Column("status", String(24), nullable=False),
        Column("spec", JSON, nullable=False),
        # The values in use: what "auto" became at create, replaced by what start recorded.
        Column("hyperparameters", JSON, nullable=False),
        Column("metadata", JSON, nullable=False),
        Column("error", JSON, nullable=True),
        Column("fine_tuned_model", String(256), nullable=True),
        Column("trained_tokens", BigInteger, nullable=True),
        Column("seed", BigInteger, nullable=False),
        Column("result_files", JSON, nullable=False),
        Column("step", Integer, nullable=False),
        Column("total_steps", Integer, nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("started_at", BigInteger, nullable=True),
        Column("finished_at", BigInteger, nullable=True),
        Column("version", Integer, nullable=False),
        # Position of the Created event: a unique, monotonic order for stable pagination.
        Column("seq", BigInteger, nullable=False),
    )
    Index(f"ix_training_jobs_g{generation}_org_kind_seq", jobs.c.org_id, jobs.c.kind, jobs.c.seq)
    events = Table(
        f"training_job_events_g{generation}", metadata,
        # The notification id of the domain event: unique, ordered, the public event id.
        Column("seq", BigInteger, primary_key=True),
        Column("job_id", String(32), nullable=False),
        Column("org_id", String(32), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("level", String(8), nullable=False),
        Column("type", String(8), nullable=False),
        Column("message", Text, nullable=False),
        Column("data", JSON, nullable=False),
    )
    Index(f"ix_training_job_events_g{generation}_job_seq", events.c.job_id, events.c.seq)
    checkpoints = Table(
        f"training_checkpoints_g{generation}", metadata,
        Column("seq", BigInteger, primary_key=True),
        Column("job_id", String(32), nullable=False),
        Column("org_id", String(32), nullable=False),
        Column("step", Integer, nullable=False),
        Column("metrics", JSON, nullable=False),
        Column("file_key", String(512), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("at", Float, nullable=False),
    )
    Index(f"ix_training_checkpoints_g{generation}_job_seq", checkpoints.c.job_id,
          checkpoints.c.seq)
    return TrainingTables(metadata, jobs, events, checkpoints)
