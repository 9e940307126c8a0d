"""Which generation of each projection's tables readers use, and a rebuild's hand-over.

A rebuild fills generation N+1 beside the live N and *proposes* it; the process running the
live runner stops N, catches N+1 up to at least where N was, and only then switches readers,
so a read never goes back in time. With no live runner, the rebuild switches by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select, update

from projections.memory_reads import need_query
from projections.sql import upsert

T = TypeVar("T")

generations_metadata = MetaData()
generations_table = Table(
    "projection_generations", generations_metadata,
    Column("projection", String(100), primary_key=True),
    Column("active", Integer, nullable=False),
    Column("proposed", Integer, nullable=True),
)

# How long a reader may keep using a generation after a switch elsewhere: the old tables stay
# intact and current until the next rebuild, so a short-lived stale pointer never fails a read.
POINTER_TTL_SECONDS = 1.0


class GenerationRegistry:
    """Reads, proposes and switches generations; the active one is cached for a second."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self._clock = engine, clock
        self._cache: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._reading: set[str] = set()  # projections whose pointer a caller is reading now
        self._table: tuple[dict[str, tuple[int, int | None]], float] | None = None
        self._table_lock = threading.Lock()
        generations_metadata.create_all(engine, checkfirst=True)

    def current(self, projection: str, *, max_age: float) -> tuple[int, int | None]:
        """(active, proposed) from one read of the whole table, shared by every caller for
        up to `max_age` seconds. A worker's twenty supervisors look once a second each: two
        queries apiece (with a pool ping and a rollback each) were most of an idle worker's
        CPU; now one query a second serves them all."""
        with self._table_lock:
            if self._table is None or self._clock() - self._table[1] >= max_age:
                self._table = (self._read_all(), self._clock())
            rows, read_at = self._table
        found = rows.get(projection, (1, None))
        with self._lock:  # readers here keep it a second from when it was read, not longer
            self._cache[projection] = (found[0], read_at)
        return found

    def active(self, projection: str, *, fresh: bool = False) -> int:
        """The cached pointer while under a second old. Once it is older, one caller reads
        the table and the others keep the old pointer until that read is done: on each
        expiry, every handler thread used to read it at once, and the crowd outgrew the
        pool, which opened and closed a connection for each."""
        with self._lock:
            cached = self._cache.get(projection)
            young = cached and self._clock() - cached[1] < POINTER_TTL_SECONDS
            if cached and not fresh and (young or projection in self._reading):
                return cached[0]
            self._reading.add(projection)
        generation: int | None = None
        try:
            generation = self._read(projection)[0]
            return generation
        finally:
            with self._lock:
                self._reading.discard(projection)
                if generation is not None:
                    self._cache[projection] = (generation, self._clock())

    def propose(self, projection: str, generation: int) -> None:
        active = self.active(projection, fresh=True)
        with self.engine.begin() as conn:
            upsert(conn, generations_table,
                   {"projection": projection, "active": active, "proposed": generation},
                   ["projection"])
        self._forget_table()

    def switch(self, projection: str, generation: int) -> None:
        with self.engine.begin() as conn:
            upsert(conn, generations_table,
                   {"projection": projection, "active": generation, "proposed": None},
                   ["projection"])
        with self._lock:
            self._cache[projection] = (generation, self._clock())
        self._forget_table()

    def withdraw(self, projection: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(generations_table)
                         .where(generations_table.c.projection == projection)
                         .values(proposed=None))
        self._forget_table()

    def _forget_table(self) -> None:
        """After a change made here: a supervisor that just switched must not see the table
        as it was before (it would switch back). Taken under the lock, so a read that began
        before the change cannot be kept after it."""
        with self._table_lock:
            self._table = None

    def _read_all(self) -> dict[str, tuple[int, int | None]]:
        query = select(generations_table.c.projection, generations_table.c.active,
                       generations_table.c.proposed)
        with self.engine.connect() as conn:
            return {row[0]: (row[1], row[2]) for row in conn.execute(query)}

    def _read(self, projection: str) -> tuple[int, int | None]:
        need_query()
        query = select(generations_table.c.active, generations_table.c.proposed).where(
            generations_table.c.projection == projection)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row[0], row[1]) if row else (1, None)


class LiveTables(Generic[T]):
    """The live generation's tables of one projection, as query classes read them: built once
    per generation, re-resolved on every call so a rebuild's switch-over is followed."""

    def __init__(self, generations: GenerationRegistry, projection: str,
                 build: Callable[[int], T]) -> None:
        self.generations, self.projection, self.build = generations, projection, build
        self._built: dict[int, T] = {}

    def __call__(self) -> T:
        generation = self.generations.active(self.projection)
        if generation not in self._built:
            self._built[generation] = self.build(generation)
        return self._built[generation]
