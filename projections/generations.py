"""Which generation of each projection's tables readers use; switched after a rebuild."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select

from projections.sql import upsert

generations_metadata = MetaData()
generations_table = Table(
    "projection_generations", generations_metadata,
    Column("projection", String(100), primary_key=True),
    Column("active", Integer, nullable=False),
)

# How long a reader may keep using a generation after a switch elsewhere: the old tables stay
# intact and current until the next rebuild, so a short-lived stale pointer never fails a read.
POINTER_TTL_SECONDS = 1.0


class GenerationRegistry:
    """Reads and switches the active generation; cached per process for a second."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        generations_metadata.create_all(engine, checkfirst=True)

    def active(self, projection: str) -> int:
        with self._lock:
            cached = self._cache.get(projection)
        if cached and time.monotonic() - cached[1] < POINTER_TTL_SECONDS:
            return cached[0]
        query = select(generations_table.c.active).where(
            generations_table.c.projection == projection)
        with self.engine.connect() as conn:
            generation = conn.execute(query).scalar() or 1
        with self._lock:
            self._cache[projection] = (generation, time.monotonic())
        return generation

    def switch(self, projection: str, generation: int) -> None:
        with self.engine.begin() as conn:
            upsert(conn, generations_table, {"projection": projection, "active": generation},
                   ["projection"])
        with self._lock:
            self._cache[projection] = (generation, time.monotonic())
