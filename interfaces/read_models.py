"""The projections of a control-plane process: one supervisor per read model.

Each read model is one Projection over one application's log, with tables per generation.
This module runs them, waits on them (read-your-writes), reports their lag and rebuilds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine

from application.shared.base import BitstrideApplication
from projections.generations import GenerationRegistry
from projections.runner import Runner, RunnerLock
from projections.shared_positions import SharedPositions
from projections.signal import ChangeSignal, LogSignals, TrackingSignals
from projections.supervisor import ProjectionSupervisor
from projections.tracking import SAFETY_RECHECK_SECONDS, SqlTrackingRecorder
from projections.view import SqlView

log = structlog.get_logger("bitstride.read_models")


class GenerationalView(Protocol):
    def __call__(self, engine: Engine, generation: int,
                 signal: ChangeSignal | None = None) -> SqlView: ...


@dataclass(frozen=True)
class ReadModel:
    """One projection (`projection_class`) of one application's log into `view_class` tables."""

    name: str
    app: BitstrideApplication
    view_class: GenerationalView
    projection_class: Callable[[Any], Any]


class ReadModels:
    def __init__(self, engine: Engine, generations: GenerationRegistry, *,
                 log_signals: LogSignals, tracking_signal: TrackingSignals,
                 lock_for: Callable[[str], RunnerLock],
                 on_failure: Callable[[str], None], query_engine: Engine | None = None) -> None:
        """`query_engine`: where waiters read positions (autocommit on Postgres)."""
        self.engine, self.generations = engine, generations
        self.positions = SharedPositions(query_engine or engine, tracking_signal)
        self.log_signals, self.tracking_signal = log_signals, tracking_signal
        self.lock_for, self.on_failure = lock_for, on_failure
        self.models: dict[str, ReadModel] = {}
        self.supervisors: dict[str, ProjectionSupervisor] = {}
        self._trackers: dict[str, SqlTrackingRecorder] = {}

    def add(self, model: ReadModel) -> None:
        self.models[model.name] = model
        self.supervisors[model.name] = ProjectionSupervisor(
            model.name, self.generations, lambda generation: self.runner(model.name, generation),
            lambda generation: self.lock_for(f"{model.name}@{generation}"),
            lambda generation: self._drop(model, generation))

    def _drop(self, model: ReadModel, generation: int) -> None:
        view = model.view_class(self.engine, generation)
        view.drop()  # type: ignore[attr-defined]

    def runner(self, name: str, generation: int) -> Runner:
        model = self.models[name]
        view = model.view_class(self.engine, generation, self.tracking_signal)
        runner_name = f"{name}@{generation}"
        return Runner(name=runner_name, app=model.app, processor=model.projection_class(view),
                      recorder=view, wakeup=self.log_signals.of(model.app.name),
                      lock=self.lock_for(runner_name),
                      batch=view.batch, on_failure=self.on_failure)

    # -- reading positions --------------------------------------------------------------------

    def tracker_name(self, name: str) -> str:
        """The live generation's tracker of read model `name` (a rebuild may switch it)."""
        return f"{name}@{self.generations.active(name)}"

    def tracker(self, name: str) -> SqlTrackingRecorder:
        key = self.tracker_name(name)
        if key not in self._trackers:
            self._trackers[key] = SqlTrackingRecorder(self.engine, key, self.tracking_signal)
        return self._trackers[key]

    def announcer(self, name: str) -> Callable[[], tuple[str, int] | None]:
        """What `ProjectionPages` keys read model `name`'s pages on: its live tracker and the
        position last announced for it in this process; None while none was."""

        def announced() -> tuple[str, int] | None:
            tracker = self.tracker_name(name)
            pushed = self.tracking_signal.pushed(self.models[name].app.name, (tracker,))
            return None if pushed is None else (tracker, pushed[tracker])

        return announced

    def following(self, application_name: str) -> list[str]:
        return [name for name, model in self.models.items()
                if model.app.name == application_name]

    def await_position(self, application_name: str, position: int, timeout: float) -> bool:
        """Wait until every read model of this log has applied `position`; False on timeout.

        The generation is re-resolved at each wake-up: a rebuild may switch it meanwhile.
        """
        deadline = time.monotonic() + timeout
        pending = self.following(application_name)
        woken = True
        while pending:
            seen = self.tracking_signal.generation()
            trackers = {name: self.tracker_name(name) for name in pending}
            reached = self.positions.read(trackers.values(), application_name, seen,
                                          verify=not woken)
            pending = [name for name, tracker in trackers.items()
                       if reached.get(tracker, 0) < position]
            remaining = deadline - time.monotonic()
            if not pending:
                break
            if remaining <= 0:
                return False
            woken = self.tracking_signal.wait_after(seen, min(remaining, SAFETY_RECHECK_SECONDS))
        return True

    def lags(self) -> Iterable[tuple[str, int]]:
        for name, model in self.models.items():
            head = model.app.recorder.max_notification_id() or 0
            position = self.tracker(name).max_tracking_id(model.app.name) or 0
            yield name, max(head - position, 0)

    # -- running ----------------------------------------------------------------------------

    def start(self, selected: Callable[[str], bool] = lambda _name: True) -> None:
        for name, supervisor in self.supervisors.items():
            if selected(name):
                supervisor.start()

    def stop(self) -> None:
        """Every runner is asked first, then awaited: a stop takes the slowest, not the sum."""
        for supervisor in self.supervisors.values():
            supervisor.request_stop()
        for supervisor in self.supervisors.values():
            supervisor.stop()

    def live_runners(self) -> list[Runner]:
        return [s.live for s in self.supervisors.values() if s.live is not None]

    def rebuild(self, name: str, progress: Callable[[int], None] | None = None) -> int:
        if name not in self.supervisors:
            known = ", ".join(self.supervisors)
            raise ValueError(f"unknown projection {name!r}; choose from {known}")
        return self.supervisors[name].rebuild(progress)
