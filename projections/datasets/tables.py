"""The datasets table; one per projection generation."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text


def datasets_table(generation: int, metadata: MetaData) -> Table:
    table = Table(
        f"datasets_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("project_id", String(32), nullable=True),
        Column("name", String(100), nullable=False),
        Column("description", Text, nullable=False),
        Column("purpose", String(16), nullable=False),
        Column("format", String(16), nullable=False),
        Column("metadata", JSON, nullable=False),
        Column("status", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        # Every upload, oldest first: number, sha256, bytes, lines, uploaded_at.
        Column("versions", JSON, nullable=False),
        Column("validated_version", Integer, nullable=True),
        Column("report", JSON, nullable=True),
        Column("seq", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
    )
    Index(f"ix_datasets_g{generation}_org_seq", table.c.org_id, table.c.status, table.c.seq)
    return table
