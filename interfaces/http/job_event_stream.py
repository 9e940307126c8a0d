"""A job's event feed as server-sent events: `GET …/jobs/{id}/events?stream=true`.

Wire format (UTF-8, CRLF line ends as Litestar writes them; parsers also accept LF):

    id: ftevent_42
    event: metrics
    data: {"id":"ftevent_42","object":"fine_tuning.job.event","created_at":…,"type":"metrics",…}

    : keep-alive

    event: done
    data: {"id":"ftjob_…","object":"fine_tuning.job","status":"succeeded",…}

- One message per feed row, oldest first. `id` is the row's public id (so a browser's
  EventSource resumes with `Last-Event-ID` by itself); `event` is the row's `type`
  (`message` or `metrics`); `data` is the same JSON object the list route returns for it.
  With EventSource, listen with `addEventListener("message" | "metrics" | "done", …)`.
- `: keep-alive` comment lines after KEEPALIVE_SECONDS without a message.
- Once the job is terminal (succeeded, failed, cancelled) and every feed row up to then was
  sent, one `event: done` whose data is the job object, then the response ends. It has no
  `id`, so the last event id stays the last feed row's.

Waiting for new rows: the training projection commits its rows and its tracking position in
one transaction and then notifies the plane's `tracking_signal` (in this process; a Postgres
NOTIFY relays commits of a worker process when the server listens). The stream re-reads
after each notification, and at least every RECHECK_SECONDS in case a commit's signal cannot
reach this process (another process writing to SQLite). Many open streams share one thread
per signal (`AsyncWakeups`), so they never tie up the worker threads that sync handlers use.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import msgspec
from litestar.response import ServerSentEventMessage

from domain.training.status import TERMINAL
from interfaces.http.training_presenter import JobKind, event_from_row, job_from_row
from projections.signal import ChangeSignal
from projections.training.queries import TrainingQueries

KEEPALIVE_SECONDS = 15.0
# Re-read at least this often even without a signal (a safety net, not the mechanism).
RECHECK_SECONDS = 1.0
BATCH = 100


def keep_alive() -> ServerSentEventMessage:
    return ServerSentEventMessage(data=None, comment="keep-alive")


async def job_event_stream(queries: TrainingQueries, signal: ChangeSignal, kind: JobKind, *,
                           org_hex: str, job_hex: str, after: int | None,
                           draining: threading.Event) -> AsyncIterator[ServerSentEventMessage]:
    """Every feed row after seq `after`, then live ones, then `done` once the job ends.

    When the server begins to stop (`draining`), the stream ends without `done`: the client
    reconnects, to another process, with `Last-Event-ID`."""
    wakeups = wakeups_for(signal)
    cursor = after
    quiet_since = time.monotonic()

    def read(since: int | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        # The job first: if it is terminal, every row up to its end is already committed.
        job = queries.job(org_hex, job_hex)
        return job, queries.events_since(org_hex, job_hex, after=since, limit=BATCH)

    while True:
        seen = signal.generation()
        job, rows = await anyio.to_thread.run_sync(read, cursor)
        for row in rows:
            event = event_from_row(kind, row)
            yield ServerSentEventMessage(id=event.id, event=event.type,
                                         data=msgspec.json.encode(event).decode())
            cursor = row["seq"]
        if rows:
            quiet_since = time.monotonic()
        if len(rows) == BATCH:
            continue
        if job is None:  # the job's row is gone (never expected): nothing more will come
            return
        if job["status"] in TERMINAL:  # StrEnum members equal their strings
            yield ServerSentEventMessage(
                event="done", data=msgspec.json.encode(job_from_row(kind, job)).decode())
            return
        if draining.is_set():
            return
        quiet = time.monotonic() - quiet_since
        if quiet >= KEEPALIVE_SECONDS:
            yield keep_alive()
            quiet_since, quiet = time.monotonic(), 0.0
        await wakeups.wait_after(seen, min(RECHECK_SECONDS, KEEPALIVE_SECONDS - quiet))


class AsyncWakeups:
    """Waits on a ChangeSignal from async code without a thread per waiter.

    One daemon thread blocks on the signal while anyone waits, and wakes the waiting
    coroutines (on whatever event loop they run) whose generation has moved; it exits once
    nobody waits."""

    IDLE_RECHECK_SECONDS = 1.0

    def __init__(self, signal: ChangeSignal) -> None:
        self._signal = signal
        self._lock = threading.Lock()
        self._waiters: dict[asyncio.Future[None], int] = {}
        self._watching = False

    async def wait_after(self, seen: int, timeout: float) -> None:
        """Return once the generation moves past `seen`, or after `timeout` seconds."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters[future] = seen
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watch, name="bitstride-sse-wakeups",
                                 daemon=True).start()
        try:
            # Registered first, checked second: a notify in between is never missed.
            if self._signal.generation() != seen:
                return
            with anyio.move_on_after(max(timeout, 0.0)):
                await future
        finally:
            with self._lock:
                self._waiters.pop(future, None)

    def _watch(self) -> None:
        while True:
            generation = self._signal.generation()
            with self._lock:
                if not self._waiters:
                    self._watching = False
                    return
                ready = [future for future, seen in self._waiters.items()
                         if seen != generation]
                for future in ready:
                    del self._waiters[future]
            for future in ready:
                with contextlib.suppress(RuntimeError):  # its loop closed: nobody waits
                    future.get_loop().call_soon_threadsafe(_resolve, future)
            self._signal.wait_after(generation, self.IDLE_RECHECK_SECONDS)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_wakeups: weakref.WeakKeyDictionary[ChangeSignal, AsyncWakeups] = weakref.WeakKeyDictionary()
_wakeups_lock = threading.Lock()


def wakeups_for(signal: ChangeSignal) -> AsyncWakeups:
    """The one AsyncWakeups of this signal."""
    with _wakeups_lock:
        found = _wakeups.get(signal)
        if found is None:
            found = _wakeups[signal] = AsyncWakeups(signal)
        return found
