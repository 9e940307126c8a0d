"""The chain's hashing: every field counts, fields cannot trade bytes, links follow on."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from infra.chain.links import GENESIS, ChainError, Link, extend, link_hash

OID = UUID("12345678123456781234567812345678")
EVENT = StoredEvent(OID, 2, "bitstride.tenancy.Project.Updated", b'{"name":"q"}')


def test_every_field_changes_the_hash() -> None:
    base = link_hash(GENESIS, 7, EVENT, "uuid")
    variants = [
        link_hash("1" * 64, 7, EVENT, "uuid"),
        link_hash(GENESIS, 8, EVENT, "uuid"),
        link_hash(GENESIS, 7, StoredEvent(UUID(int=1), 2, EVENT.topic, EVENT.state), "uuid"),
        link_hash(GENESIS, 7, StoredEvent(OID, 3, EVENT.topic, EVENT.state), "uuid"),
        link_hash(GENESIS, 7, StoredEvent(OID, 2, EVENT.topic + "x", EVENT.state), "uuid"),
        link_hash(GENESIS, 7, StoredEvent(OID, 2, EVENT.topic, EVENT.state + b" "), "uuid"),
    ]
    assert len({base, *variants}) == 7


def test_bytes_cannot_move_between_topic_and_state() -> None:
    shifted = StoredEvent(OID, 2, EVENT.topic + '{"', EVENT.state[2:])
    assert link_hash(GENESIS, 7, shifted, "uuid") != link_hash(GENESIS, 7, EVENT, "uuid")


def test_a_uuid_hashes_the_same_however_it_is_read_back() -> None:
    as_text = StoredEvent(str(OID), 2, EVENT.topic, EVENT.state)  # type: ignore[arg-type]
    assert link_hash(GENESIS, 7, as_text, "uuid") == link_hash(GENESIS, 7, EVENT, "uuid")


def test_links_name_the_previous_stored_event_across_gaps() -> None:
    head = Link(4, 2, "a" * 64)
    links = extend(head, [7, 8], [EVENT, EVENT], "uuid")
    assert [(link.notification_id, link.previous_id) for link in links] == [(7, 4), (8, 7)]
    assert links[0].hash == link_hash(head.hash, 7, EVENT, "uuid")
    assert links[1].hash == link_hash(links[0].hash, 8, EVENT, "uuid")


def test_a_chain_whose_head_is_not_before_the_new_events_refuses_to_extend() -> None:
    with pytest.raises(ChainError, match="head #8 is not before new event #8"):
        extend(Link(8, 7, "a" * 64), [8], [EVENT], "uuid")
