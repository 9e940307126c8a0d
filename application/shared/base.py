"""The eventsourcing Application base every bounded context shares."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    ProjectorFunction,
)
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoding

from application.shared.outcome import F, Outcome, replayed
from application.shared.replay import InTurnForEveryClass, InTurnRepository, mutate_in_turn
from domain.shared.cause import Cause
from domain.shared.errors import ConflictError

T = TypeVar("T")
log = structlog.get_logger("bitstride.application")

# A version race is retried for this long (then 409 `conflict`), pausing a random time below a
# ceiling that doubles from the first to the last value: with a fixed count of short pauses, a
# crowd of writers on one aggregate (50 concurrent requests) ran out of attempts and got 409s
# although each of them could have applied in turn.
RETRY_BUDGET_SECONDS = 3.0
FIRST_PAUSE_SECONDS = 0.002
LAST_PAUSE_SECONDS = 0.1


class CauseAsDict(Transcoding):
    """Stores a Cause as a plain object, so auditors read it without our classes."""

    type = Cause
    name = "cause"

    def encode(self, obj: Cause) -> dict[str, str | None]:
        return {"actor_id": obj.actor_id, "actor_kind": obj.actor_kind,
                "request_id": obj.request_id, "idempotency_key": obj.idempotency_key}

    def decode(self, data: dict[str, Any]) -> Cause:
        return Cause(**data)


class CollectedEvents(ProcessingEvent[UUID]):
    """Collects an aggregate's events after a check of its class, not of a Protocol.

    The library asks `isinstance(obj, DomainEventProtocol)` first: on Python 3.11 a runtime
    Protocol check walks every member of the protocol, about 16 µs an object, most of what
    collecting costs (a batch of usage records saves hundreds of aggregates). Anything that is
    not an aggregate (a bare event) takes the library's path.
    """

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class BitstrideApplication(Application[UUID]):
    """Adds the shared transcodings, not-found handling and conflict retries."""

    snapshotting_projectors = InTurnForEveryClass()

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        # Called with (application name, last notification id) after each save commits; the
        # in-process projection runners listen here so they wake at once instead of polling.
        self.append_listeners: list[Callable[[str, int], None]] = []
        # Called with (application name, seconds) for each atomic append: the metric's source.
        self.append_timers: list[Callable[[str, float], None]] = []

    def construct_repository(self) -> InTurnRepository:
        """Rebuilds aggregates with `mutate_in_turn`. No aggregate cache: every command reads
        the stored state, which other processes may have moved on."""
        return InTurnRepository(event_store=self.events, snapshot_store=self.snapshots)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save with `CollectedEvents` (and without its deprecated `notify`)."""
        processing_event = CollectedEvents()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        started = time.perf_counter()
        recordings = super()._record(processing_event)
        for timer in self.append_timers:
            timer(self.name, time.perf_counter() - started)
        return recordings

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None,
                      projector_func: ProjectorFunction[Any, Any] = mutate_in_turn) -> None:
        """The library's, rebuilding with `mutate_in_turn` unless told otherwise."""
        super().take_snapshot(aggregate_id, version, projector_func)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """A snapshot is written after the events committed: failing to write one must not
        make a saved command look failed. The next interval's snapshot covers it."""
        try:
            super()._take_snapshots(processing_event)
        except Exception as error:  # an optimisation failed; the write stands
            log.warning("snapshot_failed", application=self.name,
                        error_class=type(error).__name__, error=str(error))

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings:
            for listener in self.append_listeners:
                listener(self.name, recordings[-1].notification.id)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(CauseAsDict())

    def get_or_none(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def replay(self, earlier: object, kind: type[F], request_fingerprint: str) -> Outcome[F]:
        """A keyed create found its first outcome: answered once the projections have the
        log's head, like the first answer (see `replayed`)."""
        return replayed(earlier, kind, request_fingerprint, self.recorder.max_notification_id())

    def last_position(self, recordings: list[Recording[UUID]]) -> int | None:
        """The notification id to wait on for read-your-writes (None when nothing was saved)."""
        return recordings[-1].notification.id if recordings else None


def retry_on_conflict(command: Callable[[], T]) -> T:
    """Re-run a load-decide-save command when another writer won the version race.

    The command reloads fresh state each attempt, so it either applies cleanly on the new
    state or raises its own domain error (a 409): never a lost update, never a 500. Random
    pauses with a growing ceiling (exponential backoff, full jitter) spread a crowd of writers
    out instead of letting them collide in lockstep; past the budget it is 409 `conflict`.
    """
    deadline = time.monotonic() + RETRY_BUDGET_SECONDS
    ceiling = FIRST_PAUSE_SECONDS
    while True:
        try:
            return command()
        except IntegrityError:
            if time.monotonic() >= deadline:
                raise ConflictError(
                    "The object changed concurrently too often; retry the request.") from None
            time.sleep(random.uniform(0, ceiling))  # noqa: S311
            ceiling = min(ceiling * 2, LAST_PAUSE_SECONDS)
