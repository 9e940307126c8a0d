"""A wake-up signal: waiters block until something changed, with no polling interval."""

from __future__ import annotations

import threading


class ChangeSignal:
    """Many threads wait; one `notify` wakes them all. Spurious wake-ups are harmless."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

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

    def share(self, log: str, application_names: list[str]) -> None:
        for name in application_names:
            self._log_of[name] = log

    def of(self, application_name: str) -> ChangeSignal:
        log = self._log_of.get(application_name, application_name)
        with self._lock:
            return self._signals.setdefault(log, ChangeSignal())

    def notify(self, application_name: str, *_: object) -> None:
        self.of(application_name).notify()
        self.any.notify()
