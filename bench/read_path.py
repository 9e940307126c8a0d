"""Pair 2: `GET /v1/projects` (a page of 20 from the projection, API-key auth) against a bare
Litestar handler that returns the same JSON under the same uvicorn settings; beside them, the
bare handler after one trivial Postgres query, to show what querying on every request costs."""

from __future__ import annotations

import httpx

from bench import wrk
from bench.context import BenchContext
from bench.processes import Process, free_port, python_module
from bench.report import Row, Section, Target
from bench.stats import median

TITLE = "2. Read path"
QUERIED = "/v1/projects/queried"
PAGE = 20  # the default page size of GET /v1/projects
METHOD = """
`wrk` runs {clients} keep-alive clients doing `GET /v1/projects` (the default page of 20, newest
first, of an organization holding every project the write path created) with the API key,
against `bitstride serve`. The baseline is bench/bare_app.py: one Litestar route returning
the very JSON that page answered, served through `interfaces.cli.serving.run_http` (what
`bitstride serve` uses), one process, same uvicorn settings; wrk sends it the same header.
The third row is the same bare app at `{queried}`: the same JSON after one `SELECT 1` on the
same Postgres through an async pool (no thread hop), the most that any handler querying on
every request can reach. Rounds alternate between the servers; all stay up throughout.
"""


def _fill_a_page(context: BenchContext, headers: dict[str, str]) -> None:
    """The write pair usually left far more than a page; a run of the read pair alone
    (`BENCH_ONLY=read`) creates the page it reads, so it measures the same 20 rows."""
    listed = httpx.get(f"{context.api_url}/v1/projects", headers=headers, timeout=30)
    listed.raise_for_status()
    for index in range(len(listed.json()["data"]), PAGE):
        created = httpx.post(f"{context.api_url}/v1/projects", headers=headers, timeout=30,
                             json={"name": f"read-page-{index}"})
        created.raise_for_status()


def run(context: BenchContext) -> Section:
    config = context.config
    headers = {"Authorization": f"Bearer {context.api_key}"}
    _fill_a_page(context, headers)
    page = httpx.get(f"{context.api_url}/v1/projects", timeout=30, headers=headers)
    page.raise_for_status()
    page_file = context.workdir / "page.json"
    page_file.write_bytes(page.content)
    port = free_port()
    bare = Process(python_module("bench.bare_app", str(port), str(page_file)),
                   context.deployment.env, context.workdir / "bare_app.log")
    try:
        bare_url = f"http://127.0.0.1:{port}"
        bare.wait_http(f"{bare_url}/health")
        sides = ((context.api_url, "/v1/projects"), (bare_url, "/v1/projects"),
                 (bare_url, QUERIED))
        rates: dict[tuple[str, str], list[float]] = {side: [] for side in sides}
        for _ in range(config.rounds):
            for url, path in sides:
                result = wrk.run(url, "GET", path, token=context.api_key,
                                 seconds=config.seconds, concurrency=config.concurrency)
                if result.errors:
                    raise RuntimeError(f"GET {url}{path}: {result.errors} errors")
                rates[url, path].append(result.rate)
    finally:
        bare.stop()
    ours, baseline, queried = (rates[side] for side in sides)
    rows = len(page.json()["data"])
    return Section(TITLE, METHOD.format(clients=config.concurrency, queried=QUERIED), [
        Row(TITLE, f"GET /v1/projects ({rows} rows), {config.concurrency} clients", "req/s",
            median(ours), median(baseline), "bare Litestar handler",
            Target("ratio_at_least", 0.35), ours, baseline),
        Row(TITLE, "bare handler after one `SELECT 1` (the ceiling of a query per request)",
            "req/s", median(queried), median(baseline), "bare Litestar handler", None,
            queried, baseline)])
