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
