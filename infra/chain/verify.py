"""Walks a log beside its chain and names the first event that was edited, deleted, reordered
or never chained.

Events and links are read in notification order, page by page, and merged on notification id.
Only ids up to the head seen at the start are walked: appends commit event and link together,
in order, so everything up to that head is complete while writers carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import Notification

from infra.chain.links import GENESIS, ChainedRecorder, Link, link_hash

PAGE = 500


@dataclass
class Walk:
    """What a walk saw: events checked, each originator's last event (notification id and
    version), the first problem."""

    events: int = 0
    last_event_of: dict[UUID | str, tuple[int, int]] = field(default_factory=dict)
    problem: str | None = None


def describe(event: Notification) -> str:
    oid = event.originator_id
    name = oid.hex if isinstance(oid, UUID) else str(oid)
    return f"{name} v{event.originator_version}, {event.topic}"


def _events(recorder: ChainedRecorder, upto: int) -> Iterator[Notification]:
    after = 0
    while page := recorder.select_notifications(after, PAGE, stop=upto,
                                                inclusive_of_start=False):
        yield from page
        after = page[-1].id


def _links(recorder: ChainedRecorder, upto: int) -> Iterator[Link]:
    after = 0
    while page := recorder.select_links(after, upto, PAGE):
        yield from page
        after = page[-1].notification_id


def walk(recorder: ChainedRecorder, label: str,
         progress: Callable[[int], None] = lambda _: None) -> Walk:
    """Check every link of the log named `label`; stop at the first problem."""
    upto = max(recorder.max_link_id() or 0, recorder.max_notification_id() or 0)
    result = Walk()
    events, links = _events(recorder, upto), _links(recorder, upto)
    event, link = next(events, None), next(links, None)
    previous = Link(0, 0, GENESIS)
    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link.notification_id):
            assert event is not None
            result.problem = (f"{label}: event #{event.id} ({describe(event)}) has no chain "
                              "row: it was added outside the chained recorder")
            return result
        if event is None or link.notification_id < event.id:
            result.problem = (f"{label}: event #{link.notification_id} was deleted "
                              "(its chain row remains)")
            return result
        result.problem = _check(recorder, label, previous=previous, link=link, event=event,
                                upto=upto)
        if result.problem:
            return result
        result.events += 1
        result.last_event_of[event.originator_id] = (event.id, event.originator_version)
        progress(1)
        previous = link
        event, link = next(events, None), next(links, None)
    return result


def _check(recorder: ChainedRecorder, label: str, *, previous: Link, link: Link,
           event: Notification, upto: int) -> str | None:
    if link.previous_id > previous.notification_id:
        return (f"{label}: event #{link.previous_id} was deleted together with its chain row "
                f"(event #{link.notification_id} was chained after it)")
    if link.previous_id < previous.notification_id:
        return (f"{label}: event #{previous.notification_id} was inserted into the chain "
                f"after the fact (event #{link.notification_id} was chained after "
                f"#{link.previous_id})")
    id_type = recorder.originator_id_type
    edited = (f"{label}: event #{event.id} ({describe(event)}) was edited: its hash does not "
              "match the chain")
    if not isinstance(event.state, bytes):
        return edited  # e.g. rewritten by SQL text functions: no longer the stored bytes
    if link_hash(previous.hash, event.id, event, id_type) == link.hash:
        return None
    for other in _events_after(recorder, event.id, upto):
        moved = isinstance(other.state, bytes) and \
            link_hash(previous.hash, event.id, other, id_type) == link.hash
        if moved:
            return (f"{label}: events #{event.id} and #{other.id} are out of order: the event "
                    f"chained as #{event.id} ({describe(other)}) now sits at #{other.id}")
    return edited


def _events_after(recorder: ChainedRecorder, after: int, upto: int) -> Iterator[Notification]:
    """Later events, searched only once a hash mismatches: is it a move rather than an edit?"""
    while page := recorder.select_notifications(after, PAGE, stop=upto,
                                                inclusive_of_start=False):
        yield from page
        after = page[-1].id
