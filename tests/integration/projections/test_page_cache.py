"""ProjectionPages on SQLite and Postgres: a page is read once per announced position, per
tenant and cursor, and never kept when the position moved while it was read; under
`from_memory()` only what is kept is answered."""

from __future__ import annotations

import itertools
from collections.abc import Hashable

import pytest
from sqlalchemy import Engine, Table, insert

from projections.generations import GenerationRegistry
from projections.memory_reads import NotInMemory, from_memory
from projections.page_cache import ProjectionPages
from tests.integration.projections.test_paging import engine, items, live

__all__ = ["engine", "items"]  # the fixtures, shared with test_paging


class Announcements:
    """The projection's position as the process heard it, moved by the test."""

    def __init__(self) -> None:
        self.position: int | None = 1

    def __call__(self) -> Hashable | None:
        return None if self.position is None else ("paged@1", self.position)


def ids(pages: ProjectionPages, table: Table, org: str, after: str | None = None) -> list[str]:
    rows, _ = pages.newest_first(table, live, {"org_id": org}, after=after, limit=3)
    return [row["id"] for row in rows]


def add(engine: Engine, table: Table, org: str, item: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": item, "org_id": org, "kind": "odd",
                                      "state": "active"}])


def test_a_page_is_read_once_while_the_position_stands(engine: Engine, items: Table) -> None:
    heard = Announcements()
    pages = ProjectionPages(engine, heard)
    first = ids(pages, items, "a")
    add(engine, items, "a", "item_new")  # committed, not yet announced

    assert ids(pages, items, "a") == first == ["item_7", "item_5", "item_3"]
    assert pages.queries == 1

    heard.position = 2
    assert ids(pages, items, "a")[0] == "item_new"
    assert pages.queries == 2


def test_tenants_and_cursors_are_pages_of_their_own(engine: Engine, items: Table) -> None:
    pages = ProjectionPages(engine, Announcements())
    assert ids(pages, items, "a") == ["item_7", "item_5", "item_3"]
    assert ids(pages, items, "b") == ["item_9", "item_8"]
    assert ids(pages, items, "a", after="item_3") == ["item_2", "item_1"]
    assert ids(pages, items, "b", after="item_3") == []  # another tenant's cursor
    assert pages.queries == 4


def test_nothing_is_kept_while_no_position_was_announced(engine: Engine, items: Table) -> None:
    heard = Announcements()
    heard.position = None
    pages = ProjectionPages(engine, heard)
    ids(pages, items, "a")
    add(engine, items, "a", "item_new")
    assert ids(pages, items, "a")[0] == "item_new"
    assert pages.queries == 2


def test_a_page_read_while_the_position_moved_is_not_kept(engine: Engine,
                                                          items: Table) -> None:
    """It may have been read before the commit the new position announces."""
    positions = itertools.chain([1], itertools.repeat(2))
    pages = ProjectionPages(engine, lambda: ("paged@1", next(positions)))
    ids(pages, items, "a")  # read at 1, found at 2 after: not kept
    ids(pages, items, "a")  # read at 2, kept
    ids(pages, items, "a")
    assert pages.queries == 2


def test_a_kept_page_expires(engine: Engine, items: Table) -> None:
    now = [0.0]
    pages = ProjectionPages(engine, Announcements(), ttl=1.0, clock=lambda: now[0])
    ids(pages, items, "a")
    now[0] = 0.5
    ids(pages, items, "a")
    now[0] = 1.5
    ids(pages, items, "a")
    assert pages.queries == 2


def test_a_caller_changing_its_rows_changes_no_kept_page(engine: Engine,
                                                         items: Table) -> None:
    pages = ProjectionPages(engine, Announcements())
    rows, _ = pages.newest_first(items, live, {"org_id": "a"}, after=None, limit=3)
    rows[0]["id"] = "changed"
    rows.clear()
    assert ids(pages, items, "a") == ["item_7", "item_5", "item_3"]


def test_from_memory_a_kept_page_is_answered_and_a_missing_one_refused(
        engine: Engine, items: Table) -> None:
    pages = ProjectionPages(engine, Announcements())
    with from_memory(), pytest.raises(NotInMemory):
        ids(pages, items, "a")
    assert pages.queries == 0
    first = ids(pages, items, "a")
    with from_memory():
        assert ids(pages, items, "a") == first
    assert pages.queries == 1


def test_from_memory_the_live_generation_is_known_only_while_cached(engine: Engine) -> None:
    generations = GenerationRegistry(engine)
    with from_memory(), pytest.raises(NotInMemory):
        generations.active("paged")  # never read: it would take a query
    live_generation = generations.active("paged")
    with from_memory():
        assert generations.active("paged") == live_generation


def test_a_presented_page_is_made_once_while_kept_and_apart_from_rows(
        engine: Engine, items: Table) -> None:
    made: list[str] = []

    def present(row: dict[str, object]) -> tuple[str, object]:
        made.append(str(row["id"]))
        return "shown", row["id"]

    pages = ProjectionPages(engine, Announcements())

    def page(**given: object) -> list[object]:
        found, _ = pages.newest_first(items, live, {"org_id": "a"}, after=None, limit=3,
                                      **given)  # type: ignore[arg-type]
        return found

    shown = [("shown", "item_7"), ("shown", "item_5"), ("shown", "item_3")]
    assert page(present=present) == page(present=present) == shown
    assert made == ["item_7", "item_5", "item_3"]  # presented once, then shared
    assert pages.queries == 1
    assert [row["id"] for row in page()] == ["item_7", "item_5", "item_3"]  # rows: their own
    assert pages.queries == 2
