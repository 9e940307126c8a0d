"""LISTEN on Postgres channels in one background thread and call back on each NOTIFY.

This is how a process hears appends and projection commits made by other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import psycopg
import structlog
from psycopg import sql

from infra.eventstore import plain_postgres_url

log = structlog.get_logger("bitstride.listen")
RECONNECT_SECONDS = 1.0


class PgListener:
    def __init__(self, url: str, channels: Mapping[str, Callable[[str | None], None]]) -> None:
        self.url, self.channels = plain_postgres_url(url), channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

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
        with psycopg.connect(self.url, autocommit=True) as conn:
            for channel in self.channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            for callback in self.channels.values():
                callback(None)  # anything committed before LISTEN started is picked up now
            while not self._stop.is_set():
                for notify in conn.notifies(timeout=0.5):
                    callback = self.channels.get(notify.channel)
                    if callback is not None:
                        callback(notify.payload)
