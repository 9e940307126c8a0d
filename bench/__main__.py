"""`python -m bench` (what `make bench` runs): every pair, then BENCHMARKS.md.

Order: the HTTP pairs against the running processes (write, lag, read, gateway), then, with
the worker and the API stopped, the in-process ones (rebuild, job load) and validation."""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench import gateway, job_load, projections, read_path, validation, write_path
from bench.config import BenchConfig
from bench.context import BenchContext
from bench.deployment import Deployment, sign_up_with_key
from bench.machine import describe
from bench.private_postgres import MAX_CONNECTIONS, PrivatePostgres
from bench.report import Row, Run, Section, render
from bench.services import ensure_services, ensure_tools

HISTORY = "\n## History\n"


def kept_history(output: Path) -> str:
    """The hand-written `## History` section of the previous report (before/after figures of
    each change), carried over so a new run never erases it."""
    previous = output.read_text() if output.exists() else ""
    return HISTORY + previous.split(HISTORY, 1)[1] if HISTORY in previous else ""

def _step(name: str) -> None:
    print(f"bench: {name}", flush=True)


def _http_pairs(context: BenchContext) -> tuple[list[Section], list[Row]]:
    sections: list[Section] = []
    lag: list[Row] = []
    config = context.config
    if config.wants("write"):
        _step("1. write path")
        sections.append(write_path.run(context))
    if config.wants("projections"):
        _step("3. projection lag")
        lag = projections.measure_lag(context)
    if config.wants("read"):
        _step("2. read path")
        sections.append(read_path.run(context))
    if config.wants("gateway"):
        _step("4. gateway")
        sections.append(gateway.run(context))
    return sections, lag


def _in_process_pairs(context: BenchContext, lag: list[Row]) -> list[Section]:
    from interfaces.control_plane import ControlPlane

    sections: list[Section] = []
    plane = ControlPlane(context.deployment.settings(), embedded_auth=False)
    try:
        if context.config.wants("projections"):
            _step("3. projection rebuild")
            rows = lag + projections.measure_rebuild(context, plane)
            sections.append(projections.section(context, rows))
        if context.config.wants("job"):
            _step("5. job load")
            sections.append(job_load.run(context, plane))
    finally:
        plane.close()
    return sections


def _measure(config: BenchConfig, workdir: Path) -> tuple[list[Section], list[tuple[str, str]]]:
    server = None if config.database_url else PrivatePostgres(workdir)
    if server is not None:
        _step("starting a private PostgreSQL server (bench/private_postgres.py)")
        config = replace(config, database_url=server.start())
    try:
        machine = describe(config.database_url, config.redis_url)
        deployment = Deployment(config, workdir)
        try:
            _step("starting auth service, worker and control plane (Postgres, Redis)")
            deployment.start_auth()
            deployment.start_worker()
            api_url = deployment.start_api()
            key = sign_up_with_key(api_url)["key"]
            context = BenchContext(config, workdir, deployment, api_url, key,
                                   postgres_pid=server.pid() if server else None)
            sections, lag = _http_pairs(context)
            deployment.stop("api")
            deployment.stop_workers()
            sections += _in_process_pairs(context, lag)
        finally:
            deployment.close()
        if config.wants("validation"):
            _step("6. dataset validation")
            sections.append(validation.run(context))
    finally:
        if server is not None:
            server.stop()
    if server is not None:
        machine.append(("PostgreSQL server", f"private to the run (initdb defaults, "
                                             f"max_connections={MAX_CONNECTIONS})"))
    return sections, machine


def main() -> int:
    config = BenchConfig.from_env()
    ensure_services(postgres=bool(config.database_url))
    ensure_tools()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bitstride-bench-"))
    try:
        sections, machine = _measure(config, workdir)
    except BaseException:
        print(f"bench: failed; the processes' logs are in {workdir}", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    sections.sort(key=lambda section: section.title)
    command = " ".join(["make bench", *(shlex.quote(a) for a in sys.argv[1:])])
    run = Run(date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), command=command,
              machine=machine, settings=config.settings(), note=config.note)
    output = Path(config.output)
    output.write_text(render(run, sections) + kept_history(output))
    _step(f"wrote {config.output} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
