"""Aggregates rebuilt with `mutate_in_turn`: the library's result, without its per-event
runtime Protocol check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, CanMutateProtocol, event

from application.shared.base import BitstrideApplication
from application.shared.replay import mutate_in_turn

INCREMENTS = 7


class Tally(Aggregate):
    def __init__(self) -> None:
        self.seen: list[int] = []

    @event("Added")
    def add(self, number: int) -> None:
        self.seen.append(number)


class Tallies(BitstrideApplication):
    name = "Tallies"
    snapshotting_intervals = {Tally: 3}


@pytest.fixture
def saved() -> tuple[Tallies, Tally]:
    app = Tallies(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    tally = Tally()
    for number in range(INCREMENTS):
        tally.add(number)
        app.save(tally)
    return app, tally


@pytest.fixture
def protocol_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Each `isinstance(x, CanMutateProtocol)` made while the test runs."""
    checks: list[object] = []
    meta = type(CanMutateProtocol)
    original = meta.__instancecheck__

    def counted(cls: Any, instance: object) -> bool:
        if cls is CanMutateProtocol:
            checks.append(instance)
        return original(cls, instance)

    monkeypatch.setattr(meta, "__instancecheck__", counted)
    yield checks


def test_every_version_rebuilds_as_the_library_rebuilds_it(
        saved: tuple[Tallies, Tally]) -> None:
    app, tally = saved
    for version in range(1, INCREMENTS + 2):
        ours = app.repository.get(tally.id, version=version)
        theirs = app.repository.get(tally.id, version=version, projector_func=project_aggregate)
        assert ours.version == theirs.version == version
        assert ours.seen == theirs.seen == list(range(version - 1))


def test_loads_and_snapshots_make_no_protocol_check(
        saved: tuple[Tallies, Tally], protocol_checks: list[object]) -> None:
    app, tally = saved
    tally.add(INCREMENTS)
    app.save(tally)  # version 9: a snapshot is taken by rebuilding the aggregate
    assert app.repository.get(tally.id).seen == list(range(INCREMENTS + 1))
    app.take_snapshot(tally.id, version=5)  # as the API-key service asks for one
    assert sorted(s.originator_version for s in app.snapshots.get(tally.id)) == [3, 5, 6, 9]
    assert protocol_checks == []
    project_aggregate(None, app.events.get(tally.id))  # the check the fixture sees
    assert len(protocol_checks) == INCREMENTS + 2


def test_mutate_in_turn_hands_each_event_what_the_last_returned() -> None:
    tally = Tally()
    tally.add(1)
    tally.add(2)
    rebuilt = mutate_in_turn(None, tally.collect_events())
    assert rebuilt.seen == [1, 2] and rebuilt.version == 3
    assert mutate_in_turn("unchanged", []) == "unchanged"
