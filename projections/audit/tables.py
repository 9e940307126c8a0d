"""An audit read model's tables, one set per read model and generation.

`<name>_events`: one row per audited event of one log, keyed by its position (notification
id) in that log and ordered, across logs, by when it happened (`at_us`, microseconds).
`<name>_subjects`: each audited aggregate's organization and resource type, from its creation
event, so that later events (which carry neither) are filed under the right organization.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table


@dataclass(frozen=True)
class AuditTables:
    metadata: MetaData
    events: Table
    subjects: Table


def audit_tables(name: str, generation: int) -> AuditTables:
    base = f"{name.replace('-', '_')}"
    metadata = MetaData()
    events = Table(
        f"{base}_events_g{generation}", metadata,
        Column("position", BigInteger, primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("at_us", BigInteger, nullable=False),
        Column("type", String(100), nullable=False),
        Column("resource_type", String(32), nullable=False),
        Column("resource_id", String(64), nullable=False),
        Column("resource_version", Integer, nullable=False),
        Column("actor_id", String(100), nullable=True),
        Column("actor_kind", String(16), nullable=True),
        Column("request_id", String(100), nullable=True),
        Column("idempotency_key", String(255), nullable=True),
        Column("payload", JSON, nullable=False),
    )
    Index(f"ix_{base}_events_g{generation}_org_time", events.c.org_id, events.c.at_us,
          events.c.position)
    Index(f"ix_{base}_events_g{generation}_org_resource", events.c.org_id,
          events.c.resource_id, events.c.at_us)
    subjects = Table(
        f"{base}_subjects_g{generation}", metadata,
        Column("aggregate_id", String(32), primary_key=True),
        Column("org_id", String(32), nullable=False),
        Column("resource_type", String(32), nullable=False),
    )
    return AuditTables(metadata, events, subjects)
