"""SharedPositions: one query per commit for every waiter, never a reading older than the wake-up.

On a SQLite read model (the same statement runs on Postgres in the e2e tests).
"""

from __future__ import annotations

import threading
from pathlib import Path

from eventsourcing.persistence import Tracking

from infra.database import read_model_engine
from projections.shared_positions import SharedPositions
from projections.signal import TrackingSignals
from projections.tracking import SqlTrackingRecorder

WAITERS = 16


def setup(tmp_path: Path) -> tuple[SharedPositions, SqlTrackingRecorder, TrackingSignals]:
    engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    signal = TrackingSignals()
    tracker = SqlTrackingRecorder(engine, "tenancy@1", signal)
    return SharedPositions(engine, signal), tracker, signal


def test_waiters_woken_by_one_commit_share_one_reading(tmp_path: Path) -> None:
    shared, tracker, signal = setup(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))  # commits, then notifies
    woken_at = signal.generation()
    start = threading.Barrier(WAITERS)
    seen: list[dict[str, int]] = []

    def waiter() -> None:
        start.wait()
        seen.append(shared.read(["tenancy@1"], "Tenancy", woken_at))

    threads = [threading.Thread(target=waiter) for _ in range(WAITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert seen == [{"tenancy@1": 3}] * WAITERS
    assert shared.queries == 1


def test_a_waiter_woken_by_a_later_commit_gets_a_new_reading(tmp_path: Path) -> None:
    shared, tracker, signal = setup(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    assert shared.read(["tenancy@1"], "Tenancy", signal.generation()) == {"tenancy@1": 3}

    tracker.insert_tracking(Tracking("Tenancy", 5))

    assert shared.read(["tenancy@1"], "Tenancy", signal.generation()) == {"tenancy@1": 5}
    assert shared.queries == 2


def test_other_trackers_or_logs_are_read_apart(tmp_path: Path) -> None:
    shared, tracker, signal = setup(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    now = signal.generation()
    assert shared.read(["tenancy@1"], "Tenancy", now) == {"tenancy@1": 3}
    assert shared.read(["tenancy@1", "audit@1"], "Tenancy", now) == {"tenancy@1": 3}
    assert shared.read(["tenancy@1"], "Training", now) == {}
    assert shared.queries == 3
