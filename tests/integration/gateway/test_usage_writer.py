"""WriterProcessUsageMeter on Postgres: a real writer process, killed and orphaned.

Each request's two records reach the Usage log once; the writer's counters show on the
gateway's registry; a killed writer is replaced and the usage after it is written; a gateway
killed with SIGKILL leaves the writer to write what it was sent, then exit.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from application.usage.service import UsageService
from infra.eventstore import eventstore_env
from infra.gateway.usage_writer import WriterProcessUsageMeter
from infra.settings import Settings
from tests.integration.gateway.test_metering import by_request, request, stored

pytestmark = pytest.mark.postgres

WAIT_SECONDS = 30.0


@pytest.fixture
def usage(postgres_settings: Settings) -> Iterator[UsageService]:
    service = UsageService(env=eventstore_env(postgres_settings.database_url,
                                              postgres_settings.events_sqlite_path,
                                              postgres_settings.database_schema))
    yield service
    service.close()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS:.0f} s: {what}"
        time.sleep(0.05)


def test_every_request_is_written_once_and_counted_on_the_gateway_registry(
        postgres_settings: Settings, usage: UsageService) -> None:
    registry = CollectorRegistry()
    meter = WriterProcessUsageMeter(postgres_settings, registry=registry)
    try:
        for n in range(300):
            meter.record(request(n))
        eventually(lambda: registry.get_sample_value(
            "bitstride_gateway_usage_records_flushed_total") == 600, "600 records counted")
        assert meter.buffered == 0 and meter.accepting
    finally:
        meter.close()
    records = by_request(stored(usage))
    assert len(records) == 600
    assert records[("req_00000007", "inference.output_tokens")].quantity == 7
    assert registry.get_sample_value("bitstride_gateway_usage_records_dropped_total",
                                     {"reason": "buffer_full"}) == 0
    assert not meter.writer.is_alive()  # close() waited for the writer's exit


def test_usage_recorded_after_close_is_dropped_and_counted(postgres_settings: Settings) -> None:
    registry = CollectorRegistry()
    meter = WriterProcessUsageMeter(postgres_settings, registry=registry)
    meter.close()
    meter.record(request(1))
    assert registry.get_sample_value("bitstride_gateway_usage_records_dropped_total",
                                     {"reason": "closed"}) == 2
    assert not meter.accepting


def test_a_killed_writer_is_replaced_and_later_usage_is_written(
        postgres_settings: Settings, usage: UsageService) -> None:
    meter = WriterProcessUsageMeter(postgres_settings)
    try:
        for n in range(10):
            meter.record(request(n))
        eventually(lambda: meter.flushed() == 20, "the first ten requests written")
        first = meter.writer
        os.kill(first.pid, signal.SIGKILL)
        first.join(5)
        for n in range(10, 20):
            meter.record(request(n))
        eventually(lambda: meter.flushed() == 40, "a new writer wrote the next ten")
    finally:
        meter.close()
    assert {r.source_id for r in stored(usage)} == {f"req_{n:08d}" for n in range(20)}


def test_a_gateway_killed_hard_leaves_the_writer_to_write_what_it_was_sent(
        postgres_settings: Settings, usage: UsageService) -> None:
    """The 'gateway' is a child Python process that records 200 requests, waits for them to
    be sent, and SIGKILLs itself: no close() runs, and no flush interval has passed."""
    script = textwrap.dedent("""
        import os, pickle, signal, sys, time
        from infra.gateway.usage_writer import WriterProcessUsageMeter
        from tests.integration.gateway.test_metering import request
        settings = pickle.loads(sys.stdin.buffer.read())
        meter = WriterProcessUsageMeter(settings)
        for n in range(200):
            meter.record(request(n))
        time.sleep(0.5)  # the sender thread passes them to the pipe every 0.01 s
        print(meter.writer.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    gateway = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(
        postgres_settings.with_overrides(gateway_usage_flush_seconds=300.0)),
        capture_output=True, timeout=60, check=False, cwd=os.getcwd())
    assert gateway.returncode == -signal.SIGKILL, gateway.stderr.decode()
    writer_pid = int(gateway.stdout.split()[0])
    eventually(lambda: len(stored(usage)) == 400, "the orphaned writer wrote all 400")
    eventually(lambda: not _alive(writer_pid), "the orphaned writer exited")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_writer_that_cannot_reach_its_store_keeps_trying_and_close_still_ends_it(
        postgres_settings: Settings) -> None:
    """A writer started in an outage (here: a port nothing listens on) retries its store
    with backoff instead of exiting, and the gateway's close still ends it within bounds."""
    unreachable = postgres_settings.with_overrides(
        database_url="postgresql://postgres@127.0.0.1:1/postgres")
    meter = WriterProcessUsageMeter(unreachable, close_timeout_seconds=1.0)
    for n in range(5):
        meter.record(request(n))
    time.sleep(1.5)  # several attempts: 0.1 s apart, doubling (jittered)
    assert meter.writer.is_alive() and meter.flushed() == 0
    started = time.monotonic()
    meter.close()
    assert not meter.writer.is_alive()
    assert time.monotonic() - started < 10.0
