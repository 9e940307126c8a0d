"""The organizations and projects tables; one set per projection generation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class TenancyTables:
    metadata: MetaData
    organizations: Table
    projects: Table


def tenancy_tables(generation: int) -> TenancyTables:
    """Tables named for their generation, so a rebuild fills new ones beside the live ones."""
    metadata = MetaData()
    organizations = Table(
        f"organizations_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("owner_user_id", String(32), nullable=False),
        Column("name", String(100), nullable=False),
        Column("settings", JSON, nullable=False),
        Column("state", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
    )
    projects = Table(
        f"projects_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("name", String(100), nullable=False),
        Column("description", Text, nullable=False),
        Column("metadata", JSON, nullable=False),
        Column("state", String(16), nullable=False),
        Column("version", Integer, nullable=False),
        # Position of the Created event: a unique, monotonic order for stable pagination.
        Column("seq", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
    )
    Index(f"ix_projects_g{generation}_org_seq", projects.c.org_id, projects.c.state,
          projects.c.seq)
    return TenancyTables(metadata, organizations, projects)
