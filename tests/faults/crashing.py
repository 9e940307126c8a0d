"""Helpers of the crash tests: what a process sharing the test's Postgres schemas needs, the
read-model rows of one projection generation (to compare with a rebuild), and the usage
records each gateway request left in the log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from domain.usage.record import SourceKind
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.test_worker_restart import worker_env
from tests.support.usage import CREATED

# Read-model tables are named `<table>_g<generation>`; these two are not per generation.
SHARED_TABLES = {"projection_tracking", "projection_generations"}


def shared_store_env(settings: Settings, **extra: str) -> dict[str, str]:
    """A `bitstride` subprocess on the plane's event store and read models, no executors."""
    return {**worker_env(settings), "TRAINING_EXECUTOR": "none",
            "DEPLOYMENT_CONTROLLER": "off", **extra}


def generation_rows(database_url: str, schema: str, generation: int) -> dict[str, list[str]]:
    """Every table of `generation`, by its name without the suffix: its rows as sorted JSON
    texts (column order and types do not matter, every value does)."""
    suffix = f"_g{generation}"
    with psycopg.connect(database_url) as conn:
        names = [name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,)) if name.endswith(suffix) and name not in SHARED_TABLES]
        return {name.removesuffix(suffix): [row for (row,) in conn.execute(
            sql.SQL("SELECT to_jsonb(t)::text FROM {} t ORDER BY 1").format(
                sql.Identifier(schema, name)))] for name in names}


def first_differences(live: dict[str, list[str]], rebuilt: dict[str, list[str]],
                      shown: int = 3) -> dict[str, Any]:
    """Per table that differs: row counts, and a few rows only one side has."""
    found: dict[str, Any] = {}
    for table in sorted(set(live) | set(rebuilt)):
        ours, theirs = live.get(table, []), rebuilt.get(table, [])
        if ours != theirs:
            found[table] = {"live_rows": len(ours), "rebuilt_rows": len(theirs),
                            "only_live": sorted(set(ours) - set(theirs))[:shown],
                            "only_rebuilt": sorted(set(theirs) - set(ours))[:shown]}
    return found


def metered_requests(plane: ControlPlane) -> Counter[str]:
    """How many usage records each request id has in the Usage log (the gateway writes two)."""
    usage = plane.usage
    events: Iterator[Any] = (  # UsageRecord.Created: its fields are the creation's arguments
        usage.mapper.to_domain_event(notification) for notification in
        usage.recorder.select_notifications(1, 1_000_000, topics=[CREATED]))
    return Counter(event.source_id for event in events
                   if event.source_kind == SourceKind.REQUEST.value)
