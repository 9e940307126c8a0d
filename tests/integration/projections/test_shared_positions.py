"""SharedPositions: positions announced by commits need no query; otherwise one query per
commit for every waiter, never a reading older than the wake-up.

On a SQLite read model (the same statement runs on Postgres in the e2e tests); the Postgres
NOTIFY that carries a position is read back through a real listener at the end.
"""

from __future__ import annotations

import threading
from pathlib import Path

from eventsourcing.persistence import Tracking

from infra.database import read_model_engine
from projections.shared_positions import SharedPositions
from projections.signal import ChangeSignal, TrackingSignals
from projections.tracking import SqlTrackingRecorder

WAITERS = 16


class UnannouncedTracker:
    """Commits heard without their position (as from a process that does not announce it)."""

    def __init__(self, tracker: SqlTrackingRecorder, signal: TrackingSignals) -> None:
        self.inner, self.heard = tracker, signal

    def insert_tracking(self, tracking: Tracking) -> None:
        self.inner.insert_tracking(tracking)
        self.heard.notify(self.inner.tracker)


def announcing(tmp_path: Path) -> tuple[SharedPositions, SqlTrackingRecorder, TrackingSignals]:
    engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    signal = TrackingSignals()
    return SharedPositions(engine, signal), SqlTrackingRecorder(engine, "tenancy@1", signal), \
        signal


def setup(tmp_path: Path) -> tuple[SharedPositions, UnannouncedTracker, TrackingSignals]:
    shared, announced, signal = announcing(tmp_path)
    quiet = SqlTrackingRecorder(announced.engine, announced.tracker, ChangeSignal())
    return shared, UnannouncedTracker(quiet, signal), signal


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


def test_positions_announced_by_commits_are_read_without_a_query(tmp_path: Path) -> None:
    shared, tracker, signal = announcing(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    tracker.insert_tracking(Tracking("Tenancy", 5))
    assert shared.read(["tenancy@1"], "Tenancy", signal.generation()) == {"tenancy@1": 5}
    assert shared.queries == 0


def test_a_tracker_not_announced_yet_is_queried_with_the_rest(tmp_path: Path) -> None:
    shared, tracker, signal = announcing(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    audit = SqlTrackingRecorder(tracker.engine, "audit@1", ChangeSignal())
    audit.insert_tracking(Tracking("Tenancy", 2))  # committed, never announced here
    assert shared.read(["tenancy@1", "audit@1"], "Tenancy", signal.generation()) == {
        "tenancy@1": 3, "audit@1": 2}
    assert shared.queries == 1


def test_a_notify_of_unknown_origin_forgets_the_announced_positions(tmp_path: Path) -> None:
    """A listener that reconnected may have missed commits: read the table until told again."""
    shared, tracker, signal = announcing(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    signal.notify()
    assert signal.pushed("Tenancy", ["tenancy@1"]) is None
    assert shared.read(["tenancy@1"], "Tenancy", signal.generation()) == {"tenancy@1": 3}
    assert shared.queries == 1


def test_announced_positions_never_go_back(tmp_path: Path) -> None:
    _, _, signal = announcing(tmp_path)
    signal.notify("tenancy@1\tTenancy\t7")
    signal.notify("tenancy@1\tTenancy\t5")  # a late duplicate
    signal.notify("tenancy@1")  # a commit heard without its position changes nothing
    assert signal.pushed("Tenancy", ["tenancy@1"]) == {"tenancy@1": 7}
    assert signal.pushed("Training", ["tenancy@1"]) is None


def test_verify_reads_the_table_whatever_was_announced_or_read(tmp_path: Path) -> None:
    """A waiter woken by its timeout, not a signal: another process may have committed."""
    shared, tracker, signal = announcing(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    now = signal.generation()
    unheard = SqlTrackingRecorder(tracker.engine, "tenancy@1", ChangeSignal())
    unheard.insert_tracking(Tracking("Tenancy", 4))
    assert shared.read(["tenancy@1"], "Tenancy", now) == {"tenancy@1": 3}
    assert shared.read(["tenancy@1"], "Tenancy", now, verify=True) == {"tenancy@1": 4}
    assert shared.read(["tenancy@1"], "Tenancy", now, verify=True) == {"tenancy@1": 4}
    assert shared.queries == 2


def test_a_verified_reading_ahead_of_the_announced_position_is_announced(
        tmp_path: Path) -> None:
    """Commits that went unannounced (a listener unaware it lost its connection) are
    announced once a verified reading finds them, so position-keyed caches move on."""
    shared, tracker, signal = announcing(tmp_path)
    tracker.insert_tracking(Tracking("Tenancy", 3))
    tenancy = signal.watch("tenancy")
    seen = tenancy.generation()
    SqlTrackingRecorder(tracker.engine, "tenancy@1", ChangeSignal()).insert_tracking(
        Tracking("Tenancy", 4))

    shared.read(["tenancy@1"], "Tenancy", signal.generation(), verify=True)

    assert signal.pushed("Tenancy", ["tenancy@1"]) == {"tenancy@1": 4}
    assert tenancy.generation() > seen


def test_learning_never_announces_a_tracker_not_announced_before() -> None:
    """Without announcements (no listener), a learned position would go stale: none is kept."""
    signal = TrackingSignals()
    signal.learn("Tenancy", {"tenancy@1": 9})
    assert signal.pushed("Tenancy", ["tenancy@1"]) is None
    signal.notify("tenancy@1\tTenancy\t5")
    signal.learn("Tenancy", {"tenancy@1": 4})  # behind what was announced: nothing to learn
    assert signal.pushed("Tenancy", ["tenancy@1"]) == {"tenancy@1": 5}
