"""Catching a projection up from its application's log, as the worker's Runner does."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from eventsourcing.projection import Projection

from projections.runner import Runner
from projections.signal import ChangeSignal
from projections.view import SqlView

V = TypeVar("V", bound=SqlView)


class NoLock:
    """catch_up never takes the runner lock; only `run` does."""

    def acquire(self, stop: threading.Event) -> bool:
        return True

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def catch_up(app: Any, view: V, projection: type[Projection[Any]]) -> V:
    """Project every event of `app`'s log into `view`, in batches; returns the view."""
    Runner(name=view.tracker, app=app, processor=projection(view), recorder=view,
           wakeup=ChangeSignal(), lock=NoLock(), batch=view.batch).catch_up()
    return view
