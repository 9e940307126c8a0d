"""The chain's links and how each one is hashed.

A link is the chain row of one stored event: its notification id, the id of the stored event
before it in the log (0 for the first) and a SHA-256 over the previous link's hash and the
event's notification id, originator id, originator version, topic and state. Every field is
length-prefixed, so no two different events can hash the same by shifting bytes between fields.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError, StoredEvent

GENESIS = "0" * 64  # the "previous hash" of a log's first event


class ChainError(PersistenceError):
    """The chain cannot be extended: its head is not before the new events (tampering)."""


@dataclass(frozen=True)
class Link:
    notification_id: int
    previous_id: int
    hash: str


def originator_text(originator_id: UUID | str, id_type: str) -> str:
    """The originator id as hashed: a UUID's hex when ids are UUIDs, else the stored text."""
    if id_type == "uuid":
        return UUID(str(originator_id)).hex
    return str(originator_id)


def _field(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def link_hash(previous_hash: str, notification_id: int, event: StoredEvent,
              id_type: str) -> str:
    digest = hashlib.sha256(bytes.fromhex(previous_hash))
    digest.update(struct.pack(">QQ", notification_id, event.originator_version))
    digest.update(_field(originator_text(event.originator_id, id_type).encode()))
    digest.update(_field(event.topic.encode()))
    digest.update(_field(bytes(event.state)))
    return digest.hexdigest()


def extend(head: Link | None, notification_ids: Sequence[int],
           events: Sequence[StoredEvent], id_type: str) -> list[Link]:
    """The links of newly stored events, chained on from the log's current head."""
    previous_id, previous_hash = (head.notification_id, head.hash) if head else (0, GENESIS)
    if notification_ids and previous_id >= notification_ids[0]:
        raise ChainError(
            f"the chain's head #{previous_id} is not before new event #{notification_ids[0]}: "
            "events were deleted or the chain was edited; run `bitstride audit verify`")
    links = []
    for notification_id, event in zip(notification_ids, events, strict=True):
        previous_hash = link_hash(previous_hash, notification_id, event, id_type)
        links.append(Link(notification_id, previous_id, previous_hash))
        previous_id = notification_id
    return links


def seal(pages: Iterable[Sequence[Notification]], id_type: str) -> Iterator[list[Link]]:
    """Links for events stored before the chain existed, page by page, in log order."""
    head: Link | None = None
    for page in pages:
        links = extend(head, [n.id for n in page], page, id_type)
        if links:
            head = links[-1]
            yield links


class ChainedRecorder(Protocol):
    """What the verifier needs of a chained application recorder."""

    originator_id_type: str
    log_key: str

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *,
                             inclusive_of_start: bool = True) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...

    def select_links(self, after: int, upto: int, limit: int) -> list[Link]: ...

    def max_link_id(self) -> int | None: ...
