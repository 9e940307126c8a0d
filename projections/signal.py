"""A wake-up signal: waiters block until something changed, with no polling interval."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping


class ChangeSignal:
    """Many threads wait; one `notify` wakes them all. Spurious wake-ups are harmless.

    `complete`: every change is notified here, including other processes' (a Postgres
    listener hears them); waiters then need not look on their own as often.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self.complete = False

    def notify(self, *_: object) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def generation(self) -> int:
        with self._condition:
            return self._generation

    def wait_after(self, seen: int, timeout: float) -> bool:
        """Wait until the generation moves past `seen`; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._generation != seen, timeout=timeout)


def position_payload(tracker: str, application_name: str, position: int) -> str:
    """What a commit that advanced `tracker` announces (in-process, and by Postgres NOTIFY)."""
    return f"{tracker}\t{application_name}\t{position}"


class TrackingSignals(ChangeSignal):
    """The signal of projection commits, which can also be watched per projection.

    `notify(tracker)` wakes every waiter on this signal and the watchers of that tracker's
    projection (`deployments@2` is projection `deployments`), the watchers first; a commit
    of unknown origin (no tracker) wakes every watcher. The gateway's routing table watches
    only the deployments and models projections: woken by every commit, it reloaded its
    routes up to 50 times a second under an unrelated write load. A topic a commit announced
    (`SqlTrackingRecorder.announce_topic`) is notified and watched the same way, by its name:
    the organization-state cache watches only `ORGANIZATION_STATES`, which the tenancy
    projection announces when an organization's state changes.

    A commit announced with its position (`position_payload`) is remembered before anyone
    wakes, so read-your-writes waiters can read positions from `pushed` instead of the table:
    a query per commit that was about a tenth of the API's CPU under a write load. A notify
    of unknown origin (a listener that reconnected, and may have missed commits) forgets them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._watchers: list[tuple[frozenset[str], ChangeSignal]] = []
        self._pushed: dict[tuple[str, str], int] = {}  # (application, tracker) -> position
        self._lock = threading.Lock()

    def watch(self, *projections: str) -> ChangeSignal:
        signal = ChangeSignal()
        with self._lock:
            self._watchers.append((frozenset(projections), signal))
        return signal

    def notify(self, payload: object = None, *_: object) -> None:
        tracker: str | None = None
        with self._lock:
            if not isinstance(payload, str):
                self._pushed.clear()
            else:
                tracker, _, announced = payload.partition("\t")
                application_name, _, position = announced.partition("\t")
                if position.isdigit():
                    key = (application_name, tracker)
                    self._pushed[key] = max(self._pushed.get(key, 0), int(position))
            watchers = list(self._watchers)
        projection = tracker.split("@", 1)[0] if tracker is not None else None
        # Watchers first: a waiter woken below may answer its client at once, and that
        # client's next request must find the caches that watch this projection moved on.
        for projections, signal in watchers:
            if projection is None or projection in projections:
                signal.notify()
        super().notify()  # after the positions too: whoever wakes sees them

    def learn(self, application_name: str, positions: Mapping[str, int]) -> None:
        """Positions read from the table: any ahead of what was announced means commits went
        unannounced (a listener not yet aware it lost its connection). They are announced
        now, so the caches that key on positions move on too."""
        with self._lock:
            behind = [tracker for tracker, position in positions.items()
                      if self._pushed.get((application_name, tracker), position) < position]
        for tracker in behind:
            self.notify(position_payload(tracker, application_name, positions[tracker]))

    def pushed(self, application_name: str, trackers: Iterable[str]) -> dict[str, int] | None:
        """The positions announced for every one of `trackers`, or None if one was not."""
        with self._lock:
            try:
                return {tracker: self._pushed[(application_name, tracker)]
                        for tracker in trackers}
            except KeyError:
                return None


class LogSignals:
    """One wake-up signal per event log, so an append wakes only the runners following it.

    Applications that append to one shared table (SQLite) are one log: `share` names them.
    `any` moves on every append, for waiters that watch all logs at once.
    """

    def __init__(self) -> None:
        self.any = ChangeSignal()
        self._signals: dict[str, ChangeSignal] = {}
        self._log_of: dict[str, str] = {}
        self._lock = threading.Lock()
        self._complete = False

    def hear_every_process(self) -> None:
        """Appends by every process are notified here from now on (a Postgres listener
        started): the signals, present and future, are `complete`."""
        with self._lock:
            self._complete = True
            for signal in self._signals.values():
                signal.complete = True

    def share(self, log: str, application_names: list[str]) -> None:
        for name in application_names:
            self._log_of[name] = log

    def of(self, application_name: str) -> ChangeSignal:
        log = self._log_of.get(application_name, application_name)
        with self._lock:
            signal = self._signals.get(log)
            if signal is None:
                signal = self._signals[log] = ChangeSignal()
                signal.complete = self._complete
            return signal

    def notify(self, application_name: str, *_: object) -> None:
        self.of(application_name).notify()
        self.any.notify()
