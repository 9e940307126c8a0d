"""WriterProcessUsageMeter: the gateway's usage meter, writing from a process of its own.

**Why.** Writing usage is CPU-bound (eventsourcing's mapping and insert: some 100 us a record
alone, 250 us beside a busy request loop), and a thread of the gateway's process holds the
GIL while it does it: the request loop waits. `make bench` (BENCH_ONLY=gateway, alternated
runs on one machine, medians of three rounds at 200 requests/s): the gateway's added latency
went from p50 +1.23 ms and p99 +7.5 ms with the meter in a thread to +1.04 ms and +5.6 ms.

**Path.** `record()` appends the request's `InferenceUsage` to a deque and returns (no I/O, no
pickling on the loop). A sender thread passes what has queued, every SEND_SECONDS, through a
pipe to the writer process (spawned, not forked: the gateway has threads), which runs the
same `BufferedUsageMeter` (batches, retries with backoff, bounds, exactly-once ids) on its own
`UsageService`. The writer's counters are mirrored into shared memory every MIRROR_SECONDS,
so the gateway's `/metrics` and `/ready` show them under the meter's usual names.

**Crashes.**
- The gateway killed (`kill -9`): the pipe's only write end closes, the writer reads what is
  left in it, writes everything it holds and exits. Lost: what had not reached the pipe, at
  most SEND_SECONDS of traffic (the thread meter lost its whole buffer, a flush interval).
- The writer killed: its buffer is lost (at most a flush interval of traffic, as before); the
  sender sees the broken pipe, logs it and starts a new writer, which takes the rest.
- Both killed (the process group): the writer's buffer, as with the thread meter.

**Shutdown.** `close()` sends what is queued, closes the pipe and waits for the writer to
flush and exit (it keeps retrying up to its close timeout, then counts what is left as
dropped, reason `shutdown`). The writer ignores SIGINT (a Ctrl-C reaches the whole process
group; the gateway's close ends the writer after its flush). On SIGTERM it reads what is in
the pipe, writes everything and exits; usage the gateway records after that goes to a new
writer.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from application.gateway.ports import InferenceUsage
from infra.gateway.metering import (
    BACKOFF_FIRST_SECONDS,
    BUFFERED_METRIC,
    DROPPED_METRIC,
    FAILURES_METRIC,
    FLUSHED_METRIC,
    BufferedUsageMeter,
    MeteringMetrics,
    backoff,
)
from infra.heap import freeze_startup_heap
from infra.settings import Settings

log = structlog.get_logger("bitstride.gateway.metering")

SEND_SECONDS = 0.01
MIRROR_SECONDS = 0.5
RESTART_PAUSE_SECONDS = 0.5
DROP_REASONS = ("buffer_full", "invalid", "closed", "shutdown")
# The shared counters, by index: flushed, flush failures, buffered, then drops by reason.
FLUSHED, FAILURES, BUFFERED = 0, 1, 2
DROPPED = {reason: 3 + index for index, reason in enumerate(DROP_REASONS)}
SLOTS = 3 + len(DROP_REASONS)


class WriterProcessUsageMeter:
    """Implements application.gateway.ports.UsageMeter (see the module docstring)."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 close_timeout_seconds: float = 30.0) -> None:
        self._settings, self._close_timeout = settings, close_timeout_seconds
        self._max = settings.gateway_usage_buffer_max
        self._context = multiprocessing.get_context("spawn")
        self._shared: Any = self._context.Array("d", SLOTS, lock=False)
        self._unsent: deque[InferenceUsage] = deque()
        self._refused = dict.fromkeys(DROP_REASONS, 0)  # records dropped on this side
        self._carried = [0.0] * SLOTS  # the counts of writers that died, kept in the totals
        self._closing = threading.Event()
        # Set by the first record after a send (and by close): the sender sleeps until then.
        # Waking every 10 ms to find nothing was most of an idle gateway's CPU.
        self._pending = threading.Event()
        self._pipe: multiprocessing.connection.Connection | None = None
        self.writer: Any = None  # the writer process (its pid, for tests and operators)
        self._start_writer()
        if registry is not None:
            registry.register(_MirroredMetrics(self))
        self._sender = threading.Thread(target=self._send_until_closed, name="usage-sender",
                                        daemon=True)
        self._sender.start()

    # -- the request path --

    def record(self, usage: InferenceUsage) -> None:
        if self._closing.is_set():
            self._refused["closed"] += 2  # two records a request, as the writer counts them
        elif self.buffered + 2 > self._max:
            self._refused["buffer_full"] += 2
        else:
            self._unsent.append(usage)
            if not self._pending.is_set():
                self._pending.set()

    @property
    def buffered(self) -> int:
        """Records waiting: not yet sent (two a request), or in the writer's buffer."""
        return 2 * len(self._unsent) + int(self._shared[BUFFERED])

    @property
    def accepting(self) -> bool:
        """False when new usage would be dropped: a readiness signal."""
        return not self._closing.is_set() and self.buffered + 2 <= self._max

    def flushed(self) -> float:
        return self._count(FLUSHED)

    def flush_failures(self) -> float:
        return self._count(FAILURES)

    def dropped(self, reason: str) -> float:
        return self._count(DROPPED[reason]) + self._refused[reason]

    def _count(self, slot: int) -> float:
        return self._carried[slot] + float(self._shared[slot])

    # -- shutdown --

    def close(self) -> None:
        """Send what is queued, then let the writer flush everything and exit."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._pending.set()
        self._sender.join(self._close_timeout)
        if self._pipe is not None:
            self._pipe.close()
        self.writer.join(self._close_timeout + 5.0)
        if self.writer.is_alive():
            log.error("usage_writer_did_not_exit", pid=self.writer.pid,
                      action="killed; the records it held are lost")
            self.writer.kill()
            self.writer.join(RESTART_PAUSE_SECONDS)  # reaped, not left a zombie

    # -- the sender thread --

    def _start_writer(self) -> None:
        reader, self._pipe = self._context.Pipe(duplex=False)
        self.writer = self._context.Process(
            target=run_writer, args=(reader, self._settings, self._shared,
                                     self._close_timeout),
            name="bitstride-usage-writer", daemon=True)
        self.writer.start()
        reader.close()  # the writer's now: its EOF must come from our end alone

    def _carry_counts(self) -> None:
        """A new writer counts from zero: keep the dead one's counts in the totals."""
        for slot in range(SLOTS):
            if slot != BUFFERED:  # its buffer died with it
                self._carried[slot] += self._shared[slot]
            self._shared[slot] = 0.0

    def _send_until_closed(self) -> None:
        """Once a record waits: gather for SEND_SECONDS, then send all that waits. Cleared
        before the queue is read, so a record appended meanwhile is sent now or wakes the
        next round; none is left behind."""
        while True:
            self._pending.wait()
            closing = self._closing.wait(SEND_SECONDS)
            self._pending.clear()
            while self._unsent:
                batch = [self._unsent.popleft() for _ in range(len(self._unsent))]
                self._send(batch)
            if closing:
                return

    def _send(self, batch: list[InferenceUsage]) -> None:
        """Into the pipe; a broken pipe means the writer died: start another, send again."""
        while self._pipe is not None:
            try:
                self._pipe.send(batch)
                return
            except OSError as error:
                log.error("usage_writer_lost", pid=self.writer.pid,
                          exitcode=self.writer.exitcode, error_class=type(error).__name__,
                          action="starting a new writer; the records it held are lost")
                self._pipe.close()
                self.writer.join(RESTART_PAUSE_SECONDS)
                self._carry_counts()
                self._start_writer()


def run_writer(reader: multiprocessing.connection.Connection, settings: Settings,
               shared: Any, close_timeout_seconds: float) -> None:
    """The writer process: records from the pipe into a BufferedUsageMeter, until EOF."""
    from infra.logging import configure_logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the gateway's close ends us, after a flush
    signal.signal(signal.SIGTERM, _terminated)
    configure_logging(settings.log_format, settings.log_level)
    usage = _usage_service(settings)
    registry = CollectorRegistry()
    meter = BufferedUsageMeter(
        usage, flush_seconds=settings.gateway_usage_flush_seconds,
        batch_size=settings.gateway_usage_batch, buffer_max=settings.gateway_usage_buffer_max,
        close_timeout_seconds=close_timeout_seconds, metrics=MeteringMetrics(registry))
    mirror = _Mirror(meter, registry, shared)
    freeze_startup_heap()  # a full collection of the writer took 70 ms before
    try:
        _record_until_eof(reader, meter)
    except _SigtermError:
        with contextlib.suppress(Exception):  # a message cut by the signal ends the reading
            while reader.poll(0):  # what the gateway sent before the signal
                _record(reader.recv(), meter)
    finally:
        meter.close()
        mirror.stop()
        usage.close()


def _usage_service(settings: Settings) -> Any:
    """The writer's store, retried while the database cannot be reached (a writer started
    again in an outage): the gateway's usage waits in the pipe and its queue meanwhile, up to
    `GATEWAY_USAGE_BUFFER_MAX` records."""
    from application.usage.service import UsageService
    from infra.eventstore import eventstore_env, setup_lock

    failures = 0
    while True:
        try:
            with setup_lock(settings.database_url):  # the gateway may be creating tables
                return UsageService(env=eventstore_env(
                    settings.database_url, settings.events_sqlite_path,
                    settings.database_schema))
        except Exception as error:  # logged with its class, then retried
            failures += 1
            pause = backoff(failures, BACKOFF_FIRST_SECONDS)
            log.error("usage_writer_store_unavailable", error_class=type(error).__name__,
                      action=f"retrying in {pause:.1f} s")
            time.sleep(pause)


class _SigtermError(Exception):
    pass


def _terminated(_signum: int, _frame: Any) -> None:
    raise _SigtermError


def _record_until_eof(reader: multiprocessing.connection.Connection,
                      meter: BufferedUsageMeter) -> None:
    while True:
        try:
            batch = reader.recv()
        except EOFError:  # the gateway closed its end, or died
            return
        _record(batch, meter)


def _record(batch: list[InferenceUsage], meter: BufferedUsageMeter) -> None:
    for item in batch:
        meter.record(item)


class _Mirror:
    """Copies the writer's counters into shared memory, every MIRROR_SECONDS and at the end."""

    def __init__(self, meter: BufferedUsageMeter, registry: CollectorRegistry,
                 shared: Any) -> None:
        self.meter, self.registry, self.shared = meter, registry, shared
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-mirror", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(MIRROR_SECONDS):
            self.copy()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.copy()

    def copy(self) -> None:
        value = self.registry.get_sample_value
        self.shared[FLUSHED] = value(f"{FLUSHED_METRIC[0]}_total") or 0.0
        self.shared[FAILURES] = value(f"{FAILURES_METRIC[0]}_total") or 0.0
        self.shared[BUFFERED] = self.meter.buffered
        for reason, slot in DROPPED.items():
            self.shared[slot] = value(f"{DROPPED_METRIC[0]}_total", {"reason": reason}) or 0.0


class _MirroredMetrics(Collector):
    """The writer's counters under the meter's names, on the gateway's registry."""

    def __init__(self, meter: WriterProcessUsageMeter) -> None:
        self.meter = meter

    def collect(self) -> Iterable[Any]:
        meter = self.meter
        flushed = CounterMetricFamily(*FLUSHED_METRIC)
        flushed.add_metric([], meter.flushed())
        failures = CounterMetricFamily(*FAILURES_METRIC)
        failures.add_metric([], meter.flush_failures())
        dropped = CounterMetricFamily(*DROPPED_METRIC, labels=["reason"])
        for reason in DROP_REASONS:
            dropped.add_metric([reason], meter.dropped(reason))
        buffered = GaugeMetricFamily(*BUFFERED_METRIC)
        buffered.add_metric([], meter.buffered)
        return [flushed, failures, dropped, buffered]
