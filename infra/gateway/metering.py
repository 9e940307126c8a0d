"""BufferedUsageMeter: inference usage into the Usage log in batches, off the request path.

Each answered request becomes two usage records (`inference.input_tokens` and
`inference.output_tokens`, `source_kind="request"`, `source_id=` the gateway's request id),
carrying the organization, project, API key, model and deployment. Both records also carry
the request's `attributes` (`latency_ms`, `status`, `streamed`), so either meter read alone
tells an auditor how the request went (status 499: the client left mid-stream). Each record's
cause names the gateway as actor and the request id.

**Path.** `record()` validates, appends to an in-memory buffer under a lock and returns: no
I/O, no exception. A background thread writes the buffer with `UsageService.record(batch)`:
one transaction per batch of at most `GATEWAY_USAGE_BATCH` records (default 500), as soon as
that many wait, and otherwise every `GATEWAY_USAGE_FLUSH_SECONDS` (default 0.1 s). Redis is
not on this path: a Redis outage loses no usage.
`bitstride serve` on Postgres runs this meter in a process of its own, off the gateway's GIL
(usage_writer.py); its losses on a crash are described there.

**Why 0.1 s.** The flush holds the GIL while it maps and inserts, and the request loop waits
for it. One flush a second at 200 requests/s was a 25 ms burst in which every request slowed
down: the gateway's added p99 was +8 to +50 ms. Ten small flushes a second spread the same
work (and bound the crash loss window to a tenth of a second of traffic).

**Exactly once.** A record's id derives from (`request`, the request id, the meter) and the Usage
service skips ids already stored, so a retried batch (its commit failed, or only its answer
was lost) or a request recorded twice writes each record once.

**Failures.** A failed flush (database down) keeps its records at the head of the buffer and
is retried with exponential backoff (0.1 s doubling to 10 s, jittered), while new records
keep queueing behind. One structured log line per failed flush: record count, error class and
backlog (never payload content). The buffer is bounded by `GATEWAY_USAGE_BUFFER_MAX`
(default 100 000 records): past it new records are dropped, counted
(`bitstride_gateway_usage_records_dropped_total{reason="buffer_full"}`) and logged as an error
by the flusher: that is the only loss while the process lives. Records refused by the
domain's rules (say, negative tokens) are dropped the same way with `reason="invalid"`.

**Shutdown.** `close()` stops taking records, flushes everything left (retrying until
`close_timeout_seconds`, default 30 s) and stops the thread: a graceful shutdown loses
nothing unless the database stays down past that timeout, in which case what is left is
logged and counted (`reason="shutdown"`). Call it after the server stopped answering.

**Cost.** `record()` takes about 20 us. Writing is CPU-bound in eventsourcing's mapping and
insert: about 60 us per record in batches of 100 and 80 us in batches of 10 (2026-11-29, on
the benchmark machine), some 12 000 records/s (6 000 requests/s) per process into Postgres.
The flusher shares the GIL with the request loop; past that rate the backlog grows towards
the bound.

**Loss window on a hard crash (kill -9, OOM kill, power loss).** Exactly the records still in
the buffer, i.e. every record whose batch had not committed; nothing else (a batch is one
transaction: stored whole or not at all). With the database up, that is at most the records
accepted since the start of the last successful flush: about `GATEWAY_USAGE_FLUSH_SECONDS` of
traffic (default 0.1 s), or when traffic fills batches faster, the batch being written plus what
queued behind it. While the database is down (or slower than the traffic), it is the whole
backlog since then, at most `GATEWAY_USAGE_BUFFER_MAX` records. Counts are in usage records,
two per request. Requests still in flight at the crash are lost too: a request is recorded
when it ends, so a stream cut by the crash never reaches the buffer. tests/faults/
test_crash_gateway.py measures both, and that a SIGTERM loses none.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from application.gateway.ports import InferenceUsage
from application.usage.service import NewUsage
from domain.shared.cause import Cause
from domain.shared.errors import ValidationFailedError
from domain.usage.record import Meter, SourceKind

log = structlog.get_logger("bitstride.gateway.metering")

GATEWAY = Cause(actor_id="gateway", actor_kind="system")
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 10.0
DROP_LOG_SECONDS = 5.0


class UsageRecorder(Protocol):
    """What the meter needs of application.usage.service.UsageService."""

    def record(self, usage: Sequence[NewUsage], *, cause: Cause) -> int | None: ...


# Name (a counter's without `_total`) and help of the meter's metrics: the writer process
# (usage_writer.py) shows its counters on the gateway's registry under the same ones.
FLUSHED_METRIC = ("bitstride_gateway_usage_records_flushed",
                  "Usage records written to the Usage log by the gateway's meter.")
DROPPED_METRIC = ("bitstride_gateway_usage_records_dropped",
                  "Usage records the gateway's meter dropped (buffer_full, invalid, closed, "
                  "shutdown).")
FAILURES_METRIC = ("bitstride_gateway_usage_flush_failures",
                   "Batches of usage records whose write failed (and is retried).")
BUFFERED_METRIC = ("bitstride_gateway_usage_buffered_records",
                   "Usage records waiting in the gateway's meter buffer.")


class MeteringMetrics:
    """Prometheus instruments of a meter (a private registry when none is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.registry = registry
        self.flushed = Counter(*FLUSHED_METRIC, registry=registry)
        self.dropped = Counter(*DROPPED_METRIC, ["reason"], registry=registry)
        self.flush_failures = Counter(*FAILURES_METRIC, registry=registry)
        self.flush_latency = Histogram(
            "bitstride_gateway_usage_flush_duration_seconds",
            "Time to write one batch of usage records (one transaction).", registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.buffered = Gauge(*BUFFERED_METRIC, registry=registry)


def usage_records(usage: InferenceUsage) -> tuple[NewUsage, NewUsage]:
    """The two records of one request (checked: raises ValidationFailedError)."""
    cause = Cause(actor_id=GATEWAY.actor_id, actor_kind=GATEWAY.actor_kind,
                  request_id=usage.request_id)
    attributes = {"latency_ms": float(usage.latency_ms), "status": int(usage.status),
                  "streamed": bool(usage.streamed)}
    records = tuple(
        NewUsage(source_kind=SourceKind.REQUEST.value, source_id=usage.request_id,
                 meter=meter.value, quantity=quantity, org_id=usage.org_id,
                 project_id=usage.project_id, occurred_at=usage.occurred_at,
                 model=usage.model, api_key_id=usage.api_key_id,
                 deployment_id=usage.deployment_id, attributes=attributes, cause=cause)
        for meter, quantity in ((Meter.INFERENCE_INPUT_TOKENS, usage.input_tokens),
                                (Meter.INFERENCE_OUTPUT_TOKENS, usage.output_tokens)))
    for record in records:
        record.check()
    return records[0], records[1]


class BufferedUsageMeter:
    """Implements application.gateway.ports.UsageMeter (see the module docstring)."""

    def __init__(self, usage: UsageRecorder, *, flush_seconds: float = 0.1,
                 batch_size: int = 500, buffer_max: int = 100_000,
                 close_timeout_seconds: float = 30.0,
                 backoff_first_seconds: float = BACKOFF_FIRST_SECONDS,
                 metrics: MeteringMetrics | None = None) -> None:
        if flush_seconds <= 0 or batch_size < 1 or buffer_max < 1:
            raise ValueError("flush_seconds, batch_size and buffer_max must be positive")
        self._usage = usage
        self._flush_seconds, self._batch, self._max = flush_seconds, batch_size, buffer_max
        self._close_timeout, self._backoff_first = close_timeout_seconds, backoff_first_seconds
        self.metrics = metrics or MeteringMetrics()
        self._buffer: deque[NewUsage] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()  # the buffer reached a batch, or close() was called
        self._stopping = threading.Event()
        self._closed = False
        self._deadline = float("inf")  # set by close(): give up retrying past it
        self._drops: dict[str, int] = {}  # dropped since last logged, by reason (the flusher logs)
        self._next_drop_log = 0.0
        self.metrics.buffered.set_function(lambda: len(self._buffer))
        self._thread = threading.Thread(target=self._run, name="usage-meter", daemon=True)
        self._thread.start()

    # -- the request path --

    def record(self, usage: InferenceUsage) -> None:
        try:
            records = usage_records(usage)
        except Exception:  # refused by the domain's rules (or not an InferenceUsage at all)
            self._drop("invalid", 2)
            return
        with self._lock:
            if self._closed:
                reason = "closed"
            elif len(self._buffer) + len(records) > self._max:
                reason = "buffer_full"
            else:
                self._buffer.extend(records)
                if len(self._buffer) >= self._batch:
                    self._wake.set()
                return
        self._drop(reason, len(records))

    @property
    def buffered(self) -> int:
        """Records waiting to be written."""
        return len(self._buffer)

    @property
    def accepting(self) -> bool:
        """False when the buffer is full (new usage would be dropped): a readiness signal."""
        return not self._closed and len(self._buffer) + 2 <= self._max

    def _drop(self, reason: str, count: int) -> None:
        self.metrics.dropped.labels(reason).inc(count)
        with self._lock:  # the flusher logs it, off the request path
            self._drops[reason] = self._drops.get(reason, 0) + count

    # -- shutdown --

    def close(self) -> None:
        """Stop taking records, flush the rest (up to the close timeout), stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._deadline = time.monotonic() + self._close_timeout
        self._stopping.set()
        self._wake.set()
        self._thread.join(self._close_timeout + 5.0)
        left = len(self._buffer)
        if left:
            self.metrics.dropped.labels("shutdown").inc(left)
            log.error("usage_meter_closed_with_unwritten_records", count=left)
        self._log_drops(force=True)

    # -- the flusher thread --

    def _run(self) -> None:
        failures = 0
        next_flush = time.monotonic() + self._flush_seconds
        while True:
            if failures:
                self._pause(backoff(failures, self._backoff_first))
                due = True
            else:
                woken = self._wake.wait(max(0.0, next_flush - time.monotonic()))
                self._wake.clear()
                due = not woken or time.monotonic() >= next_flush
            stopping = self._stopping.is_set()
            self._log_drops(force=stopping)
            try:  # on the timer (or when stopping) everything goes; woken by size, full batches
                ok = self._flush(everything=due or stopping)
            except Exception as error:  # a bug: the thread must survive it, the records too
                log.exception("usage_meter_error", error_class=type(error).__name__)
                ok = False
            failures = 0 if ok else failures + 1
            if due or stopping:
                next_flush = time.monotonic() + self._flush_seconds
            if stopping and (not self._buffer or time.monotonic() >= self._deadline):
                return

    def _pause(self, seconds: float) -> None:
        if self._stopping.is_set():  # closing: keep retrying until the deadline, no faster
            time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))
        else:
            self._stopping.wait(seconds)  # close() cuts the pause short: one more try at once

    def _flush(self, *, everything: bool) -> bool:
        """Write batches from the head of the buffer; False at the first failed one."""
        while True:
            with self._lock:
                size = len(self._buffer)
                if size == 0 or (size < self._batch and not everything):
                    return True
                batch = [self._buffer[i] for i in range(min(size, self._batch))]
            if not self._write(batch):
                return False
            with self._lock:  # only this thread removes from the head: it is still `batch`
                for _ in batch:
                    self._buffer.popleft()

    def _write(self, batch: list[NewUsage]) -> bool:
        started = time.perf_counter()
        try:
            try:
                self._usage.record(batch, cause=GATEWAY)
            except ValidationFailedError:  # checked by record(), so a bug: keep the valid ones
                self._write_one_by_one(batch)
        except Exception as error:  # the database is down, a lock timed out, ...
            self.metrics.flush_failures.inc()
            log.error("usage_flush_failed", count=len(batch), error_class=type(error).__name__,
                      backlog=len(self._buffer))
            return False
        self.metrics.flush_latency.observe(time.perf_counter() - started)
        self.metrics.flushed.inc(len(batch))
        return True

    def _write_one_by_one(self, batch: list[NewUsage]) -> None:
        for item in batch:
            try:
                self._usage.record([item], cause=GATEWAY)
            except ValidationFailedError:
                self._drop("invalid", 1)

    def _log_drops(self, *, force: bool = False) -> None:
        """One error line per reason, at most every DROP_LOG_SECONDS (counts add up between)."""
        now = time.monotonic()
        with self._lock:
            if not self._drops or (now < self._next_drop_log and not force):
                return
            drops, self._drops = self._drops, {}
            self._next_drop_log = now + DROP_LOG_SECONDS
        for reason, count in drops.items():
            log.error("usage_records_dropped", reason=reason, count=count,
                      backlog=len(self._buffer), buffer_max=self._max)


def backoff(failures: int, first: float) -> float:
    """The pause before retry number `failures`: doubling from `first`, jittered."""
    delay = min(BACKOFF_MAX_SECONDS, first * 2.0 ** min(failures - 1, 16))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
