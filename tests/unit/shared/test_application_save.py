"""BitstrideApplication.save: the library's save, collecting aggregates' events without a
runtime Protocol check."""

from __future__ import annotations

import uuid

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, event

from application.shared.base import BitstrideApplication, CollectedEvents


class Counter(Aggregate):
    def __init__(self, name: str) -> None:
        self.name, self.count = name, 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Counters(BitstrideApplication):
    name = "Counters"


def _counters() -> list[Counter]:
    counters = [Counter(f"c{i}") for i in range(3)]
    counters[1].increment()
    return counters


def test_aggregates_are_collected_as_the_library_collects_them() -> None:
    ours, theirs = CollectedEvents(), ProcessingEvent()
    first, second = _counters(), _counters()
    ours.collect_events(*first, None, note="x")
    theirs.collect_events(*second, None, note="x")
    assert [type(e).__name__ for e in ours.events] == [type(e).__name__ for e in theirs.events]
    assert len(ours.events) == 4
    assert list(ours.aggregates) == [c.id for c in first]
    assert ours.saved_kwargs == theirs.saved_kwargs == {"note": "x"}
    assert all(not c.collect_events() for c in first)  # pending events were taken


def test_a_bare_event_takes_the_library_path() -> None:
    counter = Counter("solo")
    pending = counter.collect_events()
    collected = CollectedEvents()
    collected.collect_events(*pending)
    assert list(collected.events) == list(pending) and not collected.aggregates


def test_saved_aggregates_come_back_whole_and_listeners_hear_the_position() -> None:
    app = Counters(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    heard: list[tuple[str, int]] = []
    app.append_listeners.append(lambda name, position: heard.append((name, position)))
    counters = _counters()
    recordings = app.save(*counters)
    assert len(recordings) == 4 and heard == [("Counters", recordings[-1].notification.id)]
    loaded = app.repository.get(counters[1].id)
    assert (loaded.name, loaded.count, loaded.version) == ("c1", 1, 2)
    assert app.save() == [] and len(heard) == 1
    assert app.get_or_none(uuid.uuid4()) is None
