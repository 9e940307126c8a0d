"""The models table; one per projection generation."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text


def models_table(generation: int, metadata: MetaData) -> Table:
    table = Table(
        f"models_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("kind", String(16), nullable=False),
        Column("org_id", String(32), nullable=True),  # null for base models
        Column("name", String(100), nullable=False),
        Column("description", Text, nullable=False),
        Column("context_length", Integer, nullable=False),
        Column("tokenizer", String(200), nullable=False),
        Column("capabilities", JSON, nullable=False),
        Column("weights_uri", Text, nullable=True),
        Column("lineage", JSON, nullable=True),
        Column("metadata", JSON, nullable=False),
        Column("status", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
    )
    Index(f"ix_models_g{generation}_org_seq", table.c.org_id, table.c.status, table.c.seq)
    Index(f"ix_models_g{generation}_kind_seq", table.c.kind, table.c.status, table.c.seq)
    return table
