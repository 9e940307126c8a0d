"""Event-store connections are checked after they sat idle, not each time they are handed out.

eventsourcing's `POSTGRES_PRE_PING` makes its pool run psycopg_pool's check on every checkout:
an empty query, a round trip before every load, append and notification read. The read-model
pools already ping only a connection idle for `FRESH_SECONDS` (infra/database.py); this does
the same for the event stores. A server cannot restart within that window, and a connection
that dies anyway fails its statement: eventsourcing retries the call on another connection,
and the pool discards the broken one when it comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg_pool import ConnectionPool

from infra.database import FRESH_SECONDS

RETURNED_AT = "_bitstride_returned_at"  # set on a pooled connection as it goes back


def check_when_idle(datastore: PostgresDatastore) -> None:
    """Replace the datastore's check on every checkout (when it has one) by `ping_if_idle`,
    and note when each connection goes back to the pool."""
    if datastore.pool._check is None or getattr(datastore, "stamps_returns", False):
        return
    datastore.pool._check = ping_if_idle  # the library builds the pool: no other way in
    datastore.get_connection = _stamping(datastore.get_connection)  # type: ignore[method-assign]
    datastore.stamps_returns = True  # type: ignore[attr-defined]


def ping_if_idle(conn: Any) -> None:
    """psycopg_pool's check, for a connection back in the pool for FRESH_SECONDS or more."""
    if time.monotonic() - getattr(conn, RETURNED_AT, 0.0) >= FRESH_SECONDS:
        ConnectionPool.check_connection(conn)


def _stamping(connect: Callable[[], AbstractContextManager[Any]]) -> Callable[[], Any]:
    @contextmanager
    def get_connection() -> Iterator[Any]:
        with connect() as conn:
            try:
                yield conn
            finally:
                setattr(conn, RETURNED_AT, time.monotonic())

    return get_connection
