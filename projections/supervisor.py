"""Runs the live generation of a projection, and moves it onto a rebuilt generation.

A rebuild fills generation N+1 beside the live N. With no live runner anywhere, the rebuild
switches readers itself; otherwise it proposes N+1, and the supervisor that runs N stops it,
catches N+1 up to at least where N was, and only then switches: reads never go back in time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from projections.generations import GenerationRegistry
from projections.runner import Runner, RunnerLock
from projections.unavailable import database_unavailable

log = structlog.get_logger("bitstride.projections")
WATCH_SECONDS = 1.0
HANDOVER_POLL_SECONDS = 0.1


class ProjectionSupervisor:
    def __init__(self, name: str, registry: GenerationRegistry,
                 make_runner: Callable[[int], Runner], lock_for: Callable[[int], RunnerLock],
                 drop: Callable[[int], None]) -> None:
        self.name, self.registry = name, registry
        self.make_runner, self.lock_for, self.drop = make_runner, lock_for, drop
        self.live: Runner | None = None
        self.generation = 0
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- the live runner --------------------------------------------------------------------

    def start(self) -> None:
        self._install(self.make_runner(self.registry.active(self.name, fresh=True)))
        self._watcher = threading.Thread(target=self._watch, daemon=True,
                                         name=f"supervisor-{self.name}")
        self._watcher.start()

    def request_stop(self) -> None:
        """Ask the watcher and the live runner to stop, without waiting for them."""
        self._closing.set()
        if self.live is not None:
            self.live.request_stop()

    def stop(self) -> None:
        self.request_stop()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self.live is not None:
            self.live.stop()

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_SECONDS):
            try:
                self.tick()
            except Exception as error:  # the database is down: the next tick looks again
                if not database_unavailable(error):
                    raise

    def tick(self) -> None:
        """Follow a proposal (when we run the live runner) or a switch made elsewhere, as
        the registry's shared read of the table shows them (at most half a watch old)."""
        active, proposed = self.registry.current(self.name, max_age=WATCH_SECONDS / 2)
        running = self.live is not None and self.live.status.state == "running"
        if proposed is not None and proposed > self.generation and running:
            self._hand_over(proposed)
            return
        if active != self.generation:
            self._replace(active)

    def _hand_over(self, target: int) -> None:
        assert self.live is not None
        self.live.stop()
        runner = self.make_runner(target)
        if not runner.lock.acquire(self._closing):
            return
        try:
            runner.catch_up()
            self.registry.switch(self.name, target)
        finally:
            runner.lock.release()
        self._install(runner)
        log.info("projection_switched", projection=self.name, generation=target)

    def _replace(self, generation: int) -> None:
        if self.live is not None:
            self.live.stop()
        self._install(self.make_runner(generation))

    def _install(self, runner: Runner) -> None:
        self.generation = int(runner.name.rsplit("@", 1)[1])
        self.live = runner
        runner.start()

    # -- rebuilding (from the CLI, in another process or this one) --------------------------

    def rebuild(self, progress: Callable[[int], None] | None = None,
                timeout: float = 60.0) -> int:
        current = self.registry.active(self.name, fresh=True)
        target = current + 1
        if current > 1:
            self.drop(current - 1)
        runner = self.make_runner(target)
        self._catch_up_locked(runner, progress)
        live_lock = self.lock_for(current)
        if live_lock.try_acquire():  # nobody runs the live generation: switch here
            try:
                self._catch_up_locked(runner, None)
                self.registry.switch(self.name, target)
            finally:
                live_lock.release()
            return target
        self.registry.propose(self.name, target)
        self._await_switch(target, timeout)
        return target

    def _catch_up_locked(self, runner: Runner, progress: Callable[[int], None] | None) -> None:
        if not runner.lock.acquire(self._closing):
            raise RuntimeError(f"{runner.name}: could not take its runner lock")
        try:
            runner.catch_up(progress)
        finally:
            runner.lock.release()

    def _await_switch(self, target: int, timeout: float) -> None:
        """An operator's command waiting for the live worker's hand-over (not a request path)."""
        deadline = time.monotonic() + timeout
        while self.registry.active(self.name, fresh=True) != target:
            if time.monotonic() > deadline:
                self.registry.withdraw(self.name)
                raise TimeoutError(f"{self.name}: the live runner did not take over "
                                   f"generation {target} within {timeout:.0f} s")
            time.sleep(HANDOVER_POLL_SECONDS)
