"""SqlView: a tracking recorder whose row writes can be batched into one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from sqlalchemy import Connection, Engine, MetaData, Table

from projections.signal import ChangeSignal
from projections.tracking import SqlTrackingRecorder
from projections.write_buffer import buffered


class SqlView(SqlTrackingRecorder):
    """Writes read-model rows and the tracking position atomically.

    Outside a batch each event is its own transaction; inside `batch()` the rows of many
    events and one final position commit together, which is how catch-up stays fast.
    """

    def __init__(self, engine: Engine, tracker: str, signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, tracker, signal)
        self._local.pending = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self.transaction() as conn, buffered(conn):
            self._local.pending = None
            try:
                yield
                pending: Tracking | None = self._local.pending
                if pending is not None:
                    self.insert_tracking_in(conn, pending)
            finally:
                self._local.pending = None

    def insert_tracking(self, tracking: Tracking) -> None:
        """A process manager's position: at the batch's end inside one, otherwise now."""
        self.record(tracking)

    def record(self, tracking: Tracking, write: Callable[[Connection], None] | None = None,
               *, topic: str | None = None) -> None:
        """Apply one event's writes and advance the position (now, or at the batch's end);
        a `topic` is announced when they commit (`announce_topic`)."""
        in_batch = getattr(self._local, "conn", None) is not None
        with self.transaction() as conn:
            if write is not None:
                write(conn)
            if topic is not None:
                self.announce_topic(conn, topic)
            if in_batch:
                self._local.pending = tracking
            else:
                self.insert_tracking_in(conn, tracking)


def unix(event: Any) -> int:
    """An event's time in unix seconds, as the API's `created_at` fields carry it."""
    return int(event.timestamp.timestamp())


class SingleTableView(SqlView):
    """A view over one table per generation, made by `make_table(generation, metadata)`."""

    projection_name: ClassVar[str]
    make_table: ClassVar[Callable[[int, MetaData], Table]]

    def __init__(self, engine: Engine, generation: int = 1,
                 signal: ChangeSignal | None = None) -> None:
        super().__init__(engine, f"{self.projection_name}@{generation}", signal)
        self.metadata = MetaData()
        self.table = type(self).make_table(generation, self.metadata)
        self.metadata.create_all(engine, checkfirst=True)

    def drop(self) -> None:
        self.metadata.drop_all(self.engine, checkfirst=True)
