"""LISTEN on Postgres channels in one background thread and call back on each NOTIFY.

This is how a process hears appends and projection commits made by other processes. What it
hears keeps caches alive (announced positions, kept list pages, organization states), so a
connection that died without a word must be noticed: TCP keepalives probe an idle connection
and give up on a silent peer within `DEAD_PEER_SECONDS`, and the listener reconnects, telling
every callback that it may have missed something.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import structlog
from psycopg import sql

from infra.eventstore import plain_postgres_url

log = structlog.get_logger("bitstride.listen")
RECONNECT_SECONDS = 1.0
# Probe after IDLE_SECONDS of silence, every PROBE_SECONDS, give up after PROBES misses;
# unacknowledged data is given up on after as long.
IDLE_SECONDS, PROBE_SECONDS, PROBES = 5, 2, 3
DEAD_PEER_SECONDS = IDLE_SECONDS + PROBE_SECONDS * PROBES
KEEPALIVES: dict[str, Any] = {  # libpq's connection parameters
    "keepalives": 1, "keepalives_idle": IDLE_SECONDS, "keepalives_interval": PROBE_SECONDS,
    "keepalives_count": PROBES, "tcp_user_timeout": DEAD_PEER_SECONDS * 1000}


class PgListener:
    def __init__(self, url: str, channels: Mapping[str, Callable[[str | None], None]]) -> None:
        self.url, self.channels = plain_postgres_url(url), channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self.connection: psycopg.Connection[tuple[object, ...]] | None = None  # while listening

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning("listen_reconnecting", error=str(error))
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, **KEEPALIVES) as conn:
            self.connection = conn
            try:
                self._serve(conn)
            finally:
                self.connection = None

    def _serve(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        for channel in self.channels:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        for callback in self.channels.values():
            callback(None)  # anything committed before LISTEN started is picked up now
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=0.5):
                heard = self.channels.get(notify.channel)
                if heard is not None:
                    heard(notify.payload)
