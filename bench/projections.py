"""Pair 3: live projection lag under the write load, and rebuild throughput against reading and
decoding the same events without applying them."""

from __future__ import annotations

import time
from typing import Any

from bench import write_path
from bench.context import BenchContext
from bench.lag import LagProbe, lags, resolution
from bench.quiet import collector_paused
from bench.report import Row, Section, Target
from bench.stats import median, percentile

TITLE = "3. Projections"
PAGE = 500  # notifications per read, as the runners read them
METHOD = """
**Live lag.** One more round of the write path's load ({clients} clients of `POST
/v1/projects`) with bench/lag.py listening: a LISTEN connection hears each commit that appends
to the tenancy log and each projection commit (both send NOTIFY at commit), and after each one
reads the log head and the tenancy projection's tracked position in one statement. The lag
of notification n is the time between the first reading that shows n appended and the first
that shows it projected; lags under the time between readings (the resolution, given in the
rounds) read as zero. The load's own request latency is not part of it. The probe's
process does no garbage collection during the round (bench/quiet.py): a collection's pause
would delay the readings and count as lag.

**Rebuild.** With the worker stopped, `ControlPlane.read_models.rebuild("tenancy")` (what
`bitstride projections rebuild tenancy` runs, timed in-process without the CLI's start-up)
fills a new generation from every event in the tenancy log and switches readers to it. The
baseline reads the same log with the application's `recorder.select_notifications` ({page}
at a time, as the runners do) and decodes each with `mapper.to_domain_event`, applying
nothing. Rounds alternate.
"""


def measure_lag(context: BenchContext) -> list[Row]:
    deployment = context.deployment
    probe = LagProbe(context.config.database_url, deployment.events_schema,
                     deployment.read_schema)
    with collector_paused():
        probe.start()
        try:
            load = write_path.post_projects(context, context.config.seconds)
        finally:
            readings = probe.stop()
    seen = [lag * 1000 for lag in lags(readings)]
    if not seen:
        raise RuntimeError("the lag probe saw no event projected")
    note = (f"{len(seen)} events at {load.rate:.0f} POST/s; readings every "
            f"{resolution(readings) * 1000:.2f} ms (median); max {max(seen):.1f} ms")
    return [Row(TITLE, "live lag p50 under write load", "ms", percentile(seen, 50),
                note=note),
            Row(TITLE, "live lag p99 under write load", "ms", percentile(seen, 99),
                target=Target("at_most", 10.0), rounds=[percentile(seen, 99)], note=note)]


def _decode_all(app: Any) -> int:
    """Read and decode the whole log as a runner would, applying nothing; the event count."""
    count, position = 0, None
    while True:
        page = app.recorder.select_notifications(start=position, limit=PAGE,
                                                 inclusive_of_start=position is None)
        if not page:
            return count
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id


def measure_rebuild(context: BenchContext, plane: Any) -> list[Row]:
    app = plane.tenancy
    events = app.recorder.max_notification_id() or 0
    rebuilds, decodes = [], []
    for _ in range(context.config.rounds):
        started = time.perf_counter()
        decoded = _decode_all(app)
        decodes.append(decoded / (time.perf_counter() - started))
        started = time.perf_counter()
        plane.read_models.rebuild("tenancy")
        rebuilds.append(events / (time.perf_counter() - started))
    return [Row(TITLE, f"rebuild tenancy ({events:,} events)", "events/s", median(rebuilds),
                median(decodes), "read + decode only", Target("at_least", 10_000), rebuilds,
                decodes)]


def section(context: BenchContext, rows: list[Row]) -> Section:
    return Section(TITLE, METHOD.format(clients=context.config.concurrency, page=PAGE), rows)
