"""Property: usage totals are the sum of the distinct records, however ingestion went.

Hypothesis generates usage records, then ingests them through UsageService.record shuffled,
repeated (a repeat may disagree on the quantity, as a confused retry would: the first one
ingested wins) and split into batches. After the usage projection catches up, its buckets at
1m, 1h and 1d, the log replay's day totals and the reconciliation of the two must all equal
the sums computed directly from the records, with no difference found. Each example gets a
fresh in-memory event store; the in-memory SQLite read model is emptied between examples
(cheaper than new tables, whose statements SQLAlchemy would compile again each time).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, select
from sqlalchemy.pool import StaticPool

from application.billing.reconciliation import (
    DayKey,
    ProjectedUsage,
    day_totals,
    reconcile,
    replay_usage,
)
from application.usage.service import NewUsage, UsageService
from domain.shared.cause import SYSTEM
from projections.generations import GenerationRegistry
from projections.tracking import tracking_table
from projections.usage.projection import UsageProjection, UsageView
from projections.usage.reconciliation import usage_snapshot
from projections.usage.tables import WIDTHS
from tests.support.projections import catch_up

DAY = 1_795_000_000 - 1_795_000_000 % 86400
ORGS = [UUID(int=1), UUID(int=2)]
PROJECTS = [None, UUID(int=10)]
METERS = ["inference.input_tokens", "inference.output_tokens", "rl.grader_calls"]
MODELS = [None, "model_a", "model_b"]
KEYS = [None, "key_1", "key_2"]
ENGINE = create_engine("sqlite://", poolclass=StaticPool)
VIEW = UsageView(ENGINE)

# Around two UTC midnights, so records straddle minute, hour and day boundaries.
moments = st.builds(lambda seconds, fraction: DAY + seconds + fraction,
                    st.integers(-120, 86400 + 120), st.sampled_from([0.0, 0.5, 0.999]))
records = st.lists(st.builds(
    lambda org, project, meter, model, key, quantity, at: dict(
        org_id=org, project_id=project, meter=meter, model=model, api_key_id=key,
        quantity=quantity, occurred_at=at),
    st.sampled_from(ORGS), st.sampled_from(PROJECTS), st.sampled_from(METERS),
    st.sampled_from(MODELS), st.sampled_from(KEYS), st.integers(0, 10**6), moments),
    min_size=1, max_size=12).map(lambda fields: [
        NewUsage(source_kind="request", source_id=f"r{i}", **f) for i, f in enumerate(fields)])


@dataclass(frozen=True)
class Ingestion:
    batches: list[list[NewUsage]]
    expected: list[NewUsage]  # each source's first ingested version: what must be counted


@st.composite
def ingestions(draw: st.DrawFn) -> Ingestion:
    """Every record at least once, some again (maybe with another quantity), shuffled and
    cut into batches."""
    distinct = draw(records)
    repeats = draw(st.lists(st.tuples(st.sampled_from(distinct),
                                      st.none() | st.integers(0, 10**6)), max_size=8))
    items = distinct + [usage if quantity is None else replace(usage, quantity=quantity)
                        for usage, quantity in repeats]
    order = draw(st.permutations(items))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(order) - 1, 1)), max_size=4)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    first: dict[str, NewUsage] = {}
    for usage in order:
        first.setdefault(usage.source_id, usage)
    return Ingestion([batch for batch in batches if batch], list(first.values()))


def bucket_sums(usage: list[NewUsage]) -> Counter[tuple[Any, ...]]:
    """Per bucket (width, start and every dimension): quantity and records, by hand."""
    sums: Counter[tuple[Any, ...]] = Counter()
    for item in usage:
        for width, seconds in WIDTHS.items():
            key = (width, int(item.occurred_at // seconds) * seconds, item.org_id.hex,
                   item.project_id.hex if item.project_id else "", item.meter,
                   item.model or "", item.api_key_id or "")
            sums[(*key, "quantity")] += item.quantity
            sums[(*key, "records")] += 1
    return sums


def projected_sums(view: UsageView) -> Counter[tuple[Any, ...]]:
    buckets = view.tables.buckets
    with view.engine.connect() as conn:
        rows = conn.execute(select(buckets)).mappings().all()
    sums: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        key = (row["width"], row["start"], row["org_id"], row["project_id"], row["meter"],
               row["model"], row["api_key_id"])
        sums[(*key, "quantity")] += row["quantity"]
        sums[(*key, "records")] += row["records"]
    return sums


@settings(max_examples=25, deadline=None)
@given(ingestions())
def test_totals_are_the_sums_of_the_distinct_records(ingestion: Ingestion) -> None:
    app = UsageService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with ENGINE.begin() as conn:
        for table in (VIEW.tables.buckets, VIEW.tables.records, tracking_table):
            conn.execute(delete(table))
    for batch in ingestion.batches:
        app.record(batch, cause=SYSTEM)
    view = catch_up(app, VIEW, UsageProjection)

    assert +projected_sums(view) == +bucket_sums(ingestion.expected)
    head = app.recorder.max_notification_id() or 0
    log = list(replay_usage(app, until=head))
    expected_days: Counter[DayKey] = Counter()
    for item in ingestion.expected:
        at = int(item.occurred_at // 86400) * 86400
        expected_days[DayKey(item.org_id.hex, at, item.meter, item.model or "")] += \
            item.quantity
    assert {key: tally.quantity for key, tally in day_totals(log).items()} \
        == dict(expected_days)

    snapshot = usage_snapshot(ENGINE, GenerationRegistry(ENGINE), app.name)
    projected = ProjectedUsage.of(snapshot.position, snapshot.days, snapshot.records)
    assert reconcile(log, projected).differences == []
