"""SqlTrackingRecorder: eventsourcing's TrackingRecorder over SQLAlchemy Core.

A view's rows and its tracking position commit in one transaction, and the conditional upsert
of the position refuses to go backwards or repeat: each event is applied exactly once.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from threading import Event
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    Tracking,
    TrackingRecorder,
    WaitInterruptedError,
)
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from projections.signal import ChangeSignal, position_payload

TRACKING_CHANNEL = "bitstride_tracking"
# Waits re-check the table at least this often, in case a commit's signal came from a
# process we cannot hear (a safety net, not the mechanism).
SAFETY_RECHECK_SECONDS = 1.0

tracking_metadata = MetaData()
tracking_table = Table(
    "projection_tracking",
    tracking_metadata,
    Column("tracker", String(200), primary_key=True),
    Column("application_name", String(200), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
)

# Engines whose database already has the tracking table: recorders are made per request by
# readers waiting on positions, and a catalog query each time showed up in profiles.
_ready_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_tracking_table(engine: Engine) -> None:
    if engine not in _ready_engines:
        tracking_metadata.create_all(engine, checkfirst=True)
        _ready_engines.add(engine)


def positions(engine: Engine, trackers: Iterable[str], application_name: str) -> dict[str, int]:
    """The positions several trackers have reached in one log, in one query."""
    query = select(tracking_table.c.tracker, tracking_table.c.notification_id).where(
        tracking_table.c.application_name == application_name,
        tracking_table.c.tracker.in_(list(trackers)))
    with engine.connect() as conn:
        return {tracker: position for tracker, position in conn.execute(query)}


@functools.cache
def _advance_statement(dialect: str) -> Any:
    """The conditional upsert of a position, built once per dialect: every event of every
    projection runs it, and building it each time cost more than executing it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(tracking_table).values(
        tracker=bindparam("tracker"), application_name=bindparam("application_name"),
        notification_id=bindparam("notification_id"))
    returned: list[Any] = [tracking_table.c.notification_id]
    if dialect == "postgresql":  # the commit's NOTIFY in the same round trip
        columns = tracking_table.c
        payload = func.concat(columns.tracker, "\t", columns.application_name, "\t",
                              columns.notification_id)  # as signal.position_payload
        returned.append(func.pg_notify(literal(TRACKING_CHANNEL), payload))
    return statement.on_conflict_do_update(
        index_elements=["tracker", "application_name"],
        set_={"notification_id": statement.excluded.notification_id},
        where=tracking_table.c.notification_id < statement.excluded.notification_id,
    ).returning(*returned)


class SqlTrackingRecorder(TrackingRecorder):
    """Tracks positions per (tracker, upstream application) in the read-model database."""

    def __init__(self, engine: Engine, tracker: str, signal: ChangeSignal | None = None) -> None:
        self.engine = engine
        self.tracker = tracker
        self.signal = signal or ChangeSignal()
        self._local = threading.local()
        ensure_tracking_table(engine)

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The current batch's connection, or a new transaction committed on exit."""
        current: Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self.engine.begin() as conn:
            self._local.conn, self._local.announced, self._local.advanced = conn, False, None
            self._local.topics = []
            try:
                yield conn
                if not self._local.announced:
                    self._announce(conn)
            finally:
                self._local.conn = None
        for topic in self._local.topics:  # before the position, as Postgres delivers them
            self.signal.notify(topic)
        advanced: Tracking | None = self._local.advanced
        self.signal.notify(self.tracker if advanced is None else position_payload(
            self.tracker, advanced.application_name, advanced.notification_id))

    def announce_topic(self, conn: Connection, topic: str) -> None:
        """Tell the watchers of `topic` (a kind of change, not a projection) that the current
        transaction made one: on commit, before its position, in this process and by NOTIFY.
        Caches that only a rare change invalidates watch a topic instead of every commit."""
        self._notify(conn, topic)
        self._local.topics.append(topic)

    def _announce(self, conn: Connection) -> None:
        """Tell waiters in other processes (Postgres delivers it on commit)."""
        self._notify(conn, self.tracker)

    @staticmethod
    def _notify(conn: Connection, payload: str) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                         {"channel": TRACKING_CHANNEL, "payload": payload})

    # -- TrackingRecorder -----------------------------------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.transaction() as conn:
            self.insert_tracking_in(conn, tracking)

    def insert_tracking_in(self, conn: Connection, tracking: Tracking) -> None:
        values = {"tracker": self.tracker, "application_name": tracking.application_name,
                  "notification_id": tracking.notification_id}
        if conn.execute(_advance_statement(conn.dialect.name), values).first() is None:
            msg = (f"{self.tracker} already processed {tracking.application_name} "
                   f"notification {tracking.notification_id}")
            raise IntegrityError(msg)
        self._local.announced = conn.dialect.name == "postgresql"  # by the statement above
        self._local.advanced = tracking

    def max_tracking_id(self, application_name: str) -> int | None:
        query = select(tracking_table.c.notification_id).where(
            tracking_table.c.tracker == self.tracker,
            tracking_table.c.application_name == application_name)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def wait(self, application_name: str, notification_id: int | None, timeout: float = 1.0,
             interrupt: Event | None = None) -> None:
        """Block until the position reaches `notification_id`, woken by each commit."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.signal.generation()
            if self.has_tracking_id(application_name, notification_id):
                return
            if interrupt is not None and interrupt.is_set():
                raise WaitInterruptedError
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"{self.tracker} has not reached {application_name} #{notification_id}"
                raise TimeoutError(msg)
            self.signal.wait_after(seen, min(remaining, SAFETY_RECHECK_SECONDS))
