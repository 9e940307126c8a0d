"""What "the database is unreachable" looks like through each library we reach it by.

Such an error is an outage to wait out, not a fault of the request or the handler: the HTTP
layer answers 503 `service_unavailable`, and a projection runner pauses and resumes where it
stopped instead of failing. (A lock or statement timeout is an OperationalError too: the same
answer, retry shortly, fits it.)
"""

from __future__ import annotations

import httpx
import psycopg
from eventsourcing import persistence
from sqlalchemy import exc

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError, psycopg.InterfaceError,
    persistence.OperationalError, persistence.InterfaceError,
    exc.OperationalError, exc.InterfaceError, exc.DBAPIError,
)


def database_unavailable(error: BaseException) -> bool:
    """True for a lost or refused connection; other DBAPI errors are bugs, not outages."""
    if isinstance(error, exc.DBAPIError) and not isinstance(
            error, exc.OperationalError | exc.InterfaceError):
        return error.connection_invalidated
    return isinstance(error, UNAVAILABLE_ERRORS)


def dependency_unavailable(error: BaseException) -> bool:
    """The database, or a service a process manager calls over HTTP (the auth service closing
    an organization's sessions), cannot be reached now: an outage to wait out, not a bug."""
    if isinstance(error, httpx.TransportError):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500
    return database_unavailable(error)
