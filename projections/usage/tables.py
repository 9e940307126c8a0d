"""The usage_records and usage_buckets tables; one set per projection generation.

A bucket row sums the records of one organization, bucket width and start, project, meter,
model and API key ('' where a record has none, so the key is total). Records keep the
notification id that carried them (`seq`), so every bucket can be traced back to the records
it sums and each record to its event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table

WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}


@dataclass(frozen=True)
class UsageTables:
    metadata: MetaData
    records: Table
    buckets: Table


def usage_tables(generation: int) -> UsageTables:
    metadata = MetaData()
    records = Table(
        f"usage_records_g{generation}", metadata,
        Column("id", String(32), primary_key=True),
        Column("seq", BigInteger, nullable=False, unique=True),
        Column("org_id", String(32), nullable=False),
        Column("project_id", String(32), nullable=False),
        Column("meter", String(64), nullable=False),
        Column("quantity", BigInteger, nullable=False),
        Column("model", String(256), nullable=False),
        Column("api_key_id", String(64), nullable=False),
        Column("deployment_id", String(64), nullable=False),
        Column("source_kind", String(16), nullable=False),
        Column("source_id", String(200), nullable=False),
        Column("occurred_at", Float, nullable=False),
    )
    Index(f"ix_usage_records_g{generation}_org_time", records.c.org_id, records.c.occurred_at)
    buckets = Table(
        f"usage_buckets_g{generation}", metadata,
        Column("org_id", String(32), primary_key=True),
        Column("width", String(2), primary_key=True),
        Column("start", BigInteger, primary_key=True),
        Column("project_id", String(32), primary_key=True),
        Column("meter", String(64), primary_key=True),
        Column("model", String(256), primary_key=True),
        Column("api_key_id", String(64), primary_key=True),
        Column("quantity", BigInteger, nullable=False),
        Column("records", Integer, nullable=False),
    )
    return UsageTables(metadata, records, buckets)
