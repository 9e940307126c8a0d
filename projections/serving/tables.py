"""The deployments table; one per projection generation."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table


def deployments_table(generation: int, metadata: MetaData) -> Table:
    table = Table(
        f"deployments_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("project_id", String(32), nullable=True),
        Column("name", String(100), nullable=True),
        # The served model's public id (`model_…`).
        Column("model", String(256), nullable=False),
        Column("backend", String(16), nullable=False),
        Column("upstream_url", String(2000), nullable=True),
        Column("desired_state", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("min_replicas", Integer, nullable=False),
        Column("max_replicas", Integer, nullable=False),
        # Every replica ever reported, by id: status, url, reason and its times.
        Column("replicas", JSON, nullable=False),
        Column("error", JSON, nullable=True),
        Column("failed_at", BigInteger, nullable=True),
        Column("metadata", JSON, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("version", Integer, nullable=False),
        # Position of the Created event: a unique, monotonic order for stable pagination.
        Column("seq", BigInteger, nullable=False),
    )
    Index(f"ix_deployments_g{generation}_org_seq", table.c.org_id, table.c.seq)
    Index(f"ix_deployments_g{generation}_status", table.c.status)
    Index(f"ix_deployments_g{generation}_model", table.c.model)
    return table
