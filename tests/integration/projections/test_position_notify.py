"""A projection commit on Postgres announces its position by NOTIFY, and another process's
TrackingSignals (here: a real listener on its own connection) learns it without a query."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from infra.database import read_model_engine
from infra.pg_listen import PgListener
from projections.signal import ChangeSignal, TrackingSignals
from projections.tracking import TRACKING_CHANNEL, SqlTrackingRecorder

pytestmark = pytest.mark.postgres


def test_a_commit_announces_its_tracker_log_and_position(
        postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> None:
    engine = read_model_engine(postgres_url, tmp_path / "unused.sqlite3",
                               pg_schemas["read_model_schema"])
    tracker_name = f"probe{uuid.uuid4().hex[:8]}@3"
    heard = TrackingSignals()
    watcher = heard.watch(tracker_name.split("@", maxsplit=1)[0])
    listener = PgListener(postgres_url, {TRACKING_CHANNEL: heard.notify})
    listener.start()
    try:
        committing = SqlTrackingRecorder(engine, tracker_name, ChangeSignal())  # not `heard`
        deadline = time.monotonic() + 10
        while heard.generation() == 0:  # the listener's first wake-up comes once it listens
            assert time.monotonic() < deadline, "the listener never started listening"
            heard.wait_after(0, 0.1)
        seen = watcher.generation()
        committing.insert_tracking(Tracking("Upstream", 41))
        committing.insert_tracking(Tracking("Upstream", 42))
        while heard.pushed("Upstream", [tracker_name]) != {tracker_name: 42}:
            assert time.monotonic() < deadline, heard.pushed("Upstream", [tracker_name])
            heard.wait_after(heard.generation(), 0.1)
        assert watcher.generation() > seen
    finally:
        listener.stop()
        engine.dispose()
