"""A database outage pauses a runner instead of failing it, and a lost lock session is noticed.

The end-to-end restart of a real Postgres is tests/faults/test_outage_postgres.py; these pin
the two mechanisms it relies on, quickly.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from eventsourcing.persistence import Tracking
from sqlalchemy import exc
from structlog.testing import capture_logs

from application.tenancy.service import TenancyService
from infra.database import read_model_engine
from infra.eventstore import eventstore_env
from infra.locks import SESSION_CHECK_SECONDS, AdvisoryLock, FileLock
from projections.runner import Runner
from projections.signal import ChangeSignal
from projections.tenancy.projection import TenancyProjection, TenancyView
from tests.integration.projections.test_runner import Counting, all_rows, seed
from tests.support.projections import catch_up

DEADLINE_SECONDS = 10.0


OUTAGES = {
    "database": exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("gone")),
    # A process manager calling the auth service (organization closure) while it is down.
    "http service": httpx.ConnectError("connection refused"),
    "http 503": httpx.HTTPStatusError("unavailable", request=httpx.Request("POST", "http://a"),
                                      response=httpx.Response(503)),
}


class DownOnce:
    """Raises what an outage raises, once, at one notification."""

    def __init__(self, inner: Any, at: int, error: Exception) -> None:
        self.inner, self.at, self.error, self.raised = inner, at, error, False

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if tracking.notification_id == self.at and not self.raised:
            self.raised = True
            raise self.error
        self.inner.process_event(domain_event, tracking)


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_an_outage_pauses_the_runner_and_it_resumes_where_it_was(tmp_path: Path,
                                                                  outage: str) -> None:
    app = TenancyService(env=eventstore_env(None, tmp_path / "events.sqlite3", "unused"))
    engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    seed(app, orgs=1)
    head = app.recorder.max_notification_id() or 0
    view = TenancyView(engine, 1)
    counting = Counting(TenancyProjection(view))
    runner = Runner(name="outage", app=app, recorder=view, wakeup=ChangeSignal(),
                    processor=DownOnce(counting, at=3, error=OUTAGES[outage]),
                    lock=FileLock(tmp_path / "locks", "outage"), batch=view.batch)
    with capture_logs() as logs:
        runner.start()
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while view.max_tracking_id(app.name) != head:
                assert runner.status.state != "failed", runner.status
                assert time.monotonic() < deadline, runner.status
                time.sleep(0.05)
            assert runner.status.state == "running" and runner.status.error is None
        finally:
            runner.stop()
    events = [entry["event"] for entry in logs]
    assert "projection_paused" in events and "projection_resumed" in events
    assert "projection_failed" not in events
    assert sorted(counting.seen) == list(range(1, head + 1))
    # The batch in flight was rolled back and applied again: the rows show it once.
    assert all_rows(view) == all_rows(catch_up(app, TenancyView(engine, 2), TenancyProjection))
    app.close()
    engine.dispose()


@pytest.mark.postgres
def test_a_lock_whose_session_ended_is_no_longer_held(postgres_url: str) -> None:
    lock = AdvisoryLock(postgres_url, f"outage-{uuid.uuid4().hex[:8]}")
    assert lock.try_acquire()
    try:
        assert lock.held()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks "
                          "WHERE locktype = 'advisory' AND objid = %s", (lock.key,))
        deadline = time.monotonic() + SESSION_CHECK_SECONDS + DEADLINE_SECONDS
        while lock.held():
            assert time.monotonic() < deadline, "the lost session went unnoticed"
            time.sleep(0.05)
        assert lock.try_acquire(), "a new session takes the lock again"
        assert lock.held()
    finally:
        lock.release()
