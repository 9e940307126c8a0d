"""Pair 1: `POST /v1/projects` through `bitstride serve` + `bitstride worker` against pgbench's
single-row INSERT + COMMIT, both at the same concurrency on the same Postgres server."""

from __future__ import annotations

import psycopg
from psycopg import sql

from bench import pgbench, wrk
from bench.context import BenchContext
from bench.report import Row, Section, Target
from bench.stats import median

TITLE = "1. Write path"
METHOD = """
`wrk` runs {clients} keep-alive clients against `bitstride serve --mode full` (one uvicorn
process, uvloop + httptools, commands on its 32 handler threads, `HTTP_THREADS`) with
`bitstride worker` and `bitstride auth serve` beside it: the production shape, on Postgres
and Redis. Each request is a full command: API-key auth (cached introspection),
`Tenancy.create_project` (two events appended in one transaction: the project and its name
claim), then read-your-writes (the answer waits until the worker's tenancy
projection has committed the position), 201 with the project. The baseline is `pgbench -c
{clients} -j 2` on the same server with a script of one `INSERT` of a row as large as the
median stored project event (autocommit: insert + commit per transaction). Rounds alternate:
wrk, pgbench, wrk, pgbench, ...
"""
BODY = '{"name": "bench-{run}-{uniq}", "description": "written by make bench"}'


def post_projects(context: BenchContext, seconds: float) -> wrk.WrkResult:
    result = wrk.run(context.api_url, "POST", "/v1/projects", token=context.api_key,
                     body=BODY, seconds=seconds, concurrency=context.config.concurrency)
    if result.errors > result.requests * 0.01:
        raise RuntimeError(f"POST /v1/projects: {result.errors} of {result.requests} failed "
                           f"(statuses {result.failed_statuses})")
    return result


def _event_size(context: BenchContext) -> int:
    """The median stored size of the tenancy log's events written so far (bytes)."""
    table = sql.Identifier(context.deployment.events_schema, "tenancy_events")
    with psycopg.connect(context.config.database_url) as conn:
        row = conn.execute(sql.SQL(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY octet_length(state)) "
            "FROM {}").format(table)).fetchone()
    return int(row[0]) if row and row[0] else 400


def _raw_table(context: BenchContext, payload_bytes: int) -> str:
    """A table beside the events and the pgbench script that inserts into it."""
    schema = context.deployment.events_schema
    with psycopg.connect(context.config.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, "
                             "payload text NOT NULL)").format(
            sql.Identifier(schema, "raw_inserts")))
    return (f'INSERT INTO "{schema}".raw_inserts (payload) '  # noqa: S608 (our names)
            f"VALUES (repeat('x', {payload_bytes}));\n")


def run(context: BenchContext) -> Section:
    config = context.config
    script = context.workdir / "raw_insert.sql"
    ours, raw, latencies = [], [], []
    for number in range(config.rounds):
        result = post_projects(context, config.seconds)
        ours.append(result.rate)
        latencies.append(result.p99_ms)
        if number == 0:
            script.write_text(_raw_table(context, _event_size(context)))
        raw.append(pgbench.run(config.database_url, script, seconds=config.seconds,
                               clients=config.concurrency))
    row = Row(TITLE, f"POST /v1/projects, {config.concurrency} clients", "req/s", median(ours),
              median(raw), "pgbench INSERT+COMMIT", Target("ratio_at_least", 0.5), ours, raw,
              note=f"POST p99 per round: {', '.join(f'{v:.0f}' for v in latencies)} ms")
    return Section(TITLE, METHOD.format(clients=config.concurrency), [row])
