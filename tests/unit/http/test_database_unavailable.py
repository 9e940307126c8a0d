"""An unreachable database (or Redis, where a route has no fallback) is 503
`service_unavailable` in the envelope, whichever library reached it; other database errors
stay 500 `internal_error` (a bug, not an outage)."""

from __future__ import annotations

import psycopg
import pytest
import redis
from eventsourcing import persistence
from litestar import Litestar, get
from litestar.testing import TestClient
from sqlalchemy import exc

from interfaces.http.errors import EXCEPTION_HANDLERS

LOST = psycopg.OperationalError("server closed the connection unexpectedly")
OUTAGES: dict[str, Exception] = {
    "psycopg": LOST,
    "psycopg-interface": psycopg.InterfaceError("the connection is closed"),
    "eventsourcing": persistence.OperationalError("couldn't get a connection"),
    "eventsourcing-interface": persistence.InterfaceError("connection lost"),
    "sqlalchemy": exc.OperationalError("SELECT 1", {}, LOST),
    "sqlalchemy-invalidated": exc.DBAPIError("SELECT 1", {}, LOST,
                                             connection_invalidated=True),
    "redis": redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
}
BUGS: dict[str, Exception] = {
    "integrity": exc.IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate")),
    "eventsourcing-integrity": persistence.IntegrityError("duplicate"),
}


def client_raising(error: Exception) -> TestClient[Litestar]:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise error

    return TestClient(Litestar([boom], exception_handlers=EXCEPTION_HANDLERS))


@pytest.mark.parametrize("name", sorted(OUTAGES))
def test_an_outage_is_503_service_unavailable(name: str) -> None:
    with client_raising(OUTAGES[name]) as client:
        response = client.get("/boom")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("service_unavailable", "service_unavailable_error")
    assert "server closed" not in response.text and "connection" not in error["message"]
    assert "6379" not in response.text


@pytest.mark.parametrize("name", sorted(BUGS))
def test_other_database_errors_stay_internal_errors(name: str) -> None:
    with client_raising(BUGS[name]) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
