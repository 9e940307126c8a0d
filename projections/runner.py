"""Follows an application's event log into a projection or process manager, exactly once.

One runner per projection holds its lock (a second waits); it reads notifications after its
tracked position in batches, applies them, and sleeps on the append signal when caught up.
A failing handler stops the runner with a log line and a metric; it never skips an event.
An unreachable database is not a failure: the runner lets go of its lock, waits, takes the
lock again and resumes from its tracked position (the batch in flight was rolled back).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder

from projections.signal import ChangeSignal
from projections.unavailable import dependency_unavailable

log = structlog.get_logger("bitstride.projections")

DEFAULT_BATCH_SIZE = 500
# When an append signal may not reach us (another process writing to SQLite), look anyway.
IDLE_RECHECK_SECONDS = 1.0
# When every append is heard (Postgres NOTIFY): a safety net only. A listener that lost its
# connection notifies every signal when it is back, so nothing waits this long for a miss.
# At one look a second, a worker's twenty idle runners were a third of its idle CPU.
HEARD_RECHECK_SECONDS = 10.0
TICK_SECONDS = 1.0
OUTAGE_RETRY_SECONDS = 0.5
UNREAD = -1  # a runner's known position before it was read (None: nothing applied yet)


class LockLostError(Exception):
    """The lock's session ended (a database restart): another runner may hold it now."""


class RunnerLock(Protocol):
    """Exclusive right to run one projection; `acquire` blocks until held or `stop` is set."""

    def acquire(self, stop: threading.Event) -> bool: ...

    def try_acquire(self) -> bool: ...

    def held(self) -> bool:
        """Still ours? Cheap: called between batches."""
        ...

    def release(self) -> None: ...


class Processor(Protocol):
    def process_event(self, domain_event: Any, tracking: Tracking) -> None: ...


@dataclass
class RunnerStatus:
    name: str
    state: str = "starting"
    position: int | None = None
    error: str | None = None
    processed: int = 0
    started_at: float = field(default_factory=time.time)


class Runner:
    def __init__(self, *, name: str, app: Application[Any], processor: Processor,
                 recorder: TrackingRecorder, wakeup: ChangeSignal, lock: RunnerLock,
                 batch: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 on_failure: Callable[[str], None] | None = None,
                 tick: Callable[[], None] | None = None) -> None:
        """`tick`: periodic work of a process manager (timeouts), called about once a
        second by the thread holding the lock, between batches, never beside them."""
        self.name, self.app, self.processor, self.recorder = name, app, processor, recorder
        self.wakeup, self.lock, self.batch, self.batch_size = wakeup, lock, batch, batch_size
        self.on_failure, self.tick = on_failure, tick
        self.status = RunnerStatus(name=name)
        # The tracked position while this runner follows the log holding its lock: nobody else
        # moves it then, so a step need not read it back (a round trip per batch).
        self._known: int | None = UNREAD
        self._following = False
        self._ticked = 0.0  # when `tick` last ran
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"runner-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the runner to stop after its current batch, without waiting for it."""
        self._stop.set()
        self.wakeup.notify()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            self.status.state = "waiting_for_lock"
            if not self.lock.acquire(self._stop):
                break
            try:
                self._follow()
            except Exception as error:
                if not isinstance(error, LockLostError) and not dependency_unavailable(error):
                    self._fail(error)
                    return
                outage = error
            else:
                break
            finally:
                self.lock.release()
            self._pause(outage)
        self.status.state = "stopped"

    def _follow(self) -> None:
        self.status.state = "running"
        position = self._known = self.recorder.max_tracking_id(self.app.name)
        if self.status.error is not None:
            log.info("projection_resumed", projection=self.name, position=position)
            self.status.error = None
        else:
            log.info("projection_started", projection=self.name, position=position)
        self._ticked = 0.0
        self._following = True
        try:
            while not self._stop.is_set():
                if not self.lock.held():
                    raise LockLostError(self.name)
                seen = self.wakeup.generation()
                if self.step() == 0:
                    self._idle(seen)
                else:
                    self._tick_if_due()
        finally:
            self._following, self._known = False, UNREAD

    def _idle(self, seen: int) -> None:
        """Wait for an append after `seen`, ticking on time meanwhile; past the recheck
        interval, return anyway to look at the log (a wake-up that could not reach us)."""
        recheck = HEARD_RECHECK_SECONDS if self.wakeup.complete else IDLE_RECHECK_SECONDS
        look_at = time.monotonic() + recheck
        while not self._stop.is_set():
            self._tick_if_due()
            until = look_at if self.tick is None else min(look_at, self._ticked + TICK_SECONDS)
            if self.wakeup.wait_after(seen, max(until - time.monotonic(), 0.0)) \
                    or time.monotonic() >= look_at:
                return

    def _tick_if_due(self) -> None:
        if self.tick is None or time.monotonic() - self._ticked < TICK_SECONDS:
            return
        if not self.lock.held():  # a tick acts for the lock's holder only
            raise LockLostError(self.name)
        self._ticked = time.monotonic()
        self.tick()

    def _pause(self, error: Exception) -> None:
        """Wait out an outage: nothing was skipped, the next batch starts at the position."""
        self.status.state = "paused"
        self.status.error = f"{type(error).__name__}: {error}"
        log.warning("projection_paused", projection=self.name, error_class=type(error).__name__,
                    action=f"retrying every {OUTAGE_RETRY_SECONDS:g} s")
        self._stop.wait(OUTAGE_RETRY_SECONDS)

    # -- work -----------------------------------------------------------------------------

    def step(self, limit: int | None = None) -> int:
        """Apply the next batch after the tracked position; returns how many were read."""
        position = self._known
        if position == UNREAD:
            position = self.recorder.max_tracking_id(self.app.name)
        self._known = UNREAD  # until this step has committed
        notifications = self.app.recorder.select_notifications(
            start=position, limit=limit or self.batch_size, inclusive_of_start=position is None)
        if not notifications:
            self.status.position = position
            self._known = position if self._following else UNREAD
            return 0
        try:
            self._apply(notifications)
        except Exception as error:
            if self.batch is None or len(notifications) == 1 or dependency_unavailable(error):
                raise
            # Rows go out at a batch's end (projections/write_buffer.py), so the failure may
            # belong to an earlier event: apply them one by one, to stop at the one that fails.
            for notification in notifications:
                self._apply([notification])
        self.status.position = notifications[-1].id
        self._known = notifications[-1].id if self._following else UNREAD
        self.status.processed += len(notifications)
        return len(notifications)

    def _apply(self, notifications: Sequence[Notification]) -> None:
        """One transaction: the events' rows and the position after the last of them."""
        with self._batch():
            for notification in notifications:
                self._current = notification.id
                domain_event = self.app.mapper.to_domain_event(notification)
                self.processor.process_event(domain_event, Tracking(self.app.name,
                                                                    notification.id))

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Process until the log head as it was when called; used by rebuilds and tests."""
        head = self.app.recorder.max_notification_id() or 0
        total = 0
        while (self.recorder.max_tracking_id(self.app.name) or 0) < head:
            count = self.step()
            if count == 0:
                break
            total += count
            if progress is not None:
                progress(count)
        return total

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        if self.batch is None:
            yield
            return
        with self.batch():
            yield

    def _fail(self, error: Exception) -> None:
        self.status.state = "failed"
        self.status.error = f"{type(error).__name__}: {error}"
        log.error("projection_failed", projection=self.name, application=self.app.name,
                  notification_id=getattr(self, "_current", None), error=self.status.error,
                  action="fix the handler or data, then restart the worker; nothing was skipped")
        if self.on_failure is not None:
            self.on_failure(self.name)
