"""Fail fast while Postgres is unreachable, instead of waiting on the connection pool.

eventsourcing retries each recorder call ten times, and each try waits up to
POSTGRES_CONNECT_TIMEOUT for a pooled connection: with the server down, one request would hang
for half a minute. A breaker on each datastore notices the outage with a direct connect (the
pool's wait also times out under mere load, so it proves nothing), then refuses at once until
a direct connect succeeds again, tried at most every PROBE_SECONDS. The refusal is psycopg's
own OperationalError, which eventsourcing does not retry: requests during an outage answer 503
within one pool wait, and the first after it proceeds.

The pool reconnects in the background with exponential backoff from 1 s (psycopg_pool's
default), so after a two-second outage it could take as long again to hand out a connection;
starting from 0.1 s bounds that lag at about the outage's own length, and far less for a short
one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore
from psycopg_pool.base import AttemptWithBackoff

log = structlog.get_logger("bitstride.database")

PROBE_SECONDS = 0.5
PROBE_CONNECT_TIMEOUT = 2
RECONNECT_FIRST_DELAY_SECONDS = 0.1


class OutageBreaker:
    def __init__(self, connect: Callable[[], AbstractContextManager[Any]],
                 probe_params: dict[str, Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connect, self._params, self._clock = connect, probe_params, clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # set while the database is unreachable

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        self._refuse_while_down()
        try:
            with self._connect() as conn:
                yield conn
        except (OperationalError, InterfaceError):
            self._probe()
            raise

    def _refuse_while_down(self) -> None:
        with self._lock:
            open_until = self._open_until
        if open_until is None:
            return
        if self._clock() < open_until or not self._probe():
            raise psycopg.OperationalError("the database is unreachable")

    def _probe(self) -> bool:
        """Can a new connection be made now? Opens or closes the breaker accordingly."""
        try:
            psycopg.connect(**self._params, connect_timeout=PROBE_CONNECT_TIMEOUT).close()
        except psycopg.Error as error:
            with self._lock:
                if self._open_until is None:
                    log.error("database_unreachable", error_class=type(error).__name__)
                self._open_until = self._clock() + PROBE_SECONDS
            return False
        with self._lock:
            if self._open_until is not None:
                log.info("database_reachable")
            self._open_until = None
        return True


def guard(datastore: PostgresDatastore) -> None:
    """Route the datastore's connections through a breaker (its `cursor` and `transaction`
    both take theirs from `get_connection`)."""
    if isinstance(getattr(datastore, "breaker", None), OutageBreaker):
        return
    AttemptWithBackoff.INITIAL_DELAY = RECONNECT_FIRST_DELAY_SECONDS
    params = {key: value for key, value in datastore.pool.kwargs.items()
              if key in ("host", "port", "dbname", "user", "password")}
    breaker = OutageBreaker(datastore.get_connection, params)
    datastore.breaker = breaker  # type: ignore[attr-defined]
    datastore.get_connection = breaker.get_connection  # type: ignore[method-assign]
