"""Live projection lag, measured from outside the processes: a LISTEN connection hears every
commit that appends to the tenancy log and every projection commit (both NOTIFY at commit) and
then reads the log head and the tenancy projection's position in one statement. The lag of
notification n is the time from the first reading that shows n in the log to the first that
shows it projected. Readings happen after each commit (at most one round trip late, both
sides alike), so lags shorter than the time between readings read as zero: the resolution
is reported beside the figures."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bench.stats import median
from projections.tracking import TRACKING_CHANNEL

DRAIN_SECONDS = 10.0


@dataclass(frozen=True)
class Reading:
    at: float      # seconds (perf_counter), the middle of the query
    head: int      # the log's highest notification id
    position: int  # the projection's tracked notification id


def lags(readings: Sequence[Reading]) -> list[float]:
    """Seconds each notification appended after the first reading took to be projected.

    One statement reads both numbers, so a reading never shows a position past its head."""
    if not readings:
        return []
    first = readings[0].head
    appended: dict[int, float] = {}
    result: list[float] = []
    next_appended = next_projected = first + 1
    for reading in readings:
        for notification in range(next_appended, reading.head + 1):
            appended[notification] = reading.at
        next_appended = max(next_appended, reading.head + 1)
        for notification in range(next_projected, reading.position + 1):
            result.append(reading.at - appended[notification])
        next_projected = max(next_projected, reading.position + 1)
    return result


def resolution(readings: Sequence[Reading]) -> float:
    """The median time between readings (seconds): the smallest lag that can be seen."""
    gaps = [b.at - a.at for a, b in itertools.pairwise(readings)]
    return median(gaps) if gaps else 0.0


class LagProbe:
    """Collects readings in a thread from `start()` until `stop()` (which drains the lag)."""

    def __init__(self, url: str, events_schema: str, read_schema: str,
                 application: str = "Tenancy", projection: str = "tenancy") -> None:
        self.url, self.application = url, application
        self.events_channel = f"{application.lower()}_events"
        self.query = sql.SQL(
            "SELECT (SELECT max(notification_id) FROM {events}), "
            "(SELECT max(notification_id) FROM {tracking} WHERE tracker LIKE {like} "
            "AND application_name = {application})").format(
            events=sql.Identifier(events_schema, self.events_channel),
            tracking=sql.Identifier(read_schema, "projection_tracking"),
            like=sql.Literal(f"{projection}@%"), application=sql.Literal(application))
        self.readings: list[Reading] = []
        self._loading = True
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> list[Reading]:
        """The load has ended: read on until the projection has caught up, then stop."""
        self._loading = False
        self._thread.join(DRAIN_SECONDS + 5)
        return self.readings

    def _read(self, conn: psycopg.Connection[tuple[int | None, int | None]]) -> Reading:
        before = time.perf_counter()
        row = conn.execute(self.query).fetchone()
        after = time.perf_counter()
        head, position = (row or (None, None))
        return Reading((before + after) / 2, head or 0, position or 0)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for channel in (self.events_channel, TRACKING_CHANNEL):
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.readings.append(self._read(conn))
            self._ready.set()
            drained_by: float | None = None
            while True:
                for _ in conn.notifies(timeout=0.1, stop_after=1):
                    pass
                reading = self._read(conn)
                self.readings.append(reading)
                if not self._loading:
                    drained_by = drained_by or time.monotonic() + DRAIN_SECONDS
                    if reading.position >= reading.head or time.monotonic() > drained_by:
                        return
