"""Tracked positions read once per projection commit, for every read-your-writes waiter.

Requests waiting on their writes all wake on each projection commit; each used to query the
positions itself, so 32 waiting requests ran 32 identical queries per commit. Now the first to
wake reads them and the others reuse that reading. A reading taken after the commit signal
reached generation g sees every commit signalled up to g, so it serves any waiter whose
`fresh_after` is at most g: nobody decides from a reading older than its own wake-up.

Positions announced with their commits (TrackingSignals.pushed) need no reading at all; a
waiter that woke by timeout instead of by a signal asks to `verify`, which always queries: a
commit it could not hear (another process on SQLite) is found at the next safety re-check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine

from projections.signal import TrackingSignals
from projections.tracking import positions


@dataclass(frozen=True)
class _Reading:
    generation: int
    positions: dict[str, int]


class SharedPositions:
    def __init__(self, engine: Engine, signal: TrackingSignals) -> None:
        self.engine, self.signal = engine, signal
        self._readings: dict[tuple[str, frozenset[str]], _Reading] = {}
        self._locks: dict[tuple[str, frozenset[str]], threading.Lock] = {}
        self._guard = threading.Lock()
        self.queries = 0  # how many readings were taken, for tests and profiles

    def read(self, trackers: Iterable[str], application_name: str,
             fresh_after: int, *, verify: bool = False) -> dict[str, int]:
        """Positions of `trackers` in the log, from a reading taken at generation
        `fresh_after` or later (the caller's `signal.generation()` before it checks)."""
        key = (application_name, frozenset(trackers))
        if not verify:
            pushed = self.signal.pushed(application_name, key[1])
            if pushed is not None:
                return pushed
        with self._lock_for(key):
            reading = self._readings.get(key)
            if reading is None or reading.generation < fresh_after or verify:
                generation = self.signal.generation()  # before the query: it sees up to here
                reading = _Reading(generation, positions(self.engine, key[1], application_name))
                self._readings[key] = reading
                self.queries += 1
                if verify:
                    self.signal.learn(application_name, reading.positions)
            return reading.positions

    def _lock_for(self, key: tuple[str, frozenset[str]]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
