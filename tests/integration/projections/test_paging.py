"""newest_first on SQLite and Postgres: pages, cursors, tenants, and one statement per shape."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
)

from infra.database import read_model_engine
from projections import paging
from projections.paging import equal, newest_first


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        engine = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    else:
        engine = read_model_engine(request.getfixturevalue("postgres_url"),
                                   tmp_path / "x.sqlite3",
                                   request.getfixturevalue("pg_schemas")["read_model_schema"])
    request.addfinalizer(engine.dispose)
    return engine


@pytest.fixture
def items(engine: Engine) -> Table:
    """Rows 1..7 of org a (4 and 6 deleted) and 8..9 of org b, in creation order."""
    table = Table("paged_items", MetaData(),
                  Column("seq", BigInteger().with_variant(Integer, "sqlite"),
                         primary_key=True, autoincrement=True),
                  Column("id", String(40), nullable=False), Column("org_id", String(40)),
                  Column("kind", String(20)), Column("state", String(20)))
    table.metadata.create_all(engine)
    rows = [{"id": f"item_{n}", "org_id": "a" if n <= 7 else "b",
             "kind": "odd" if n % 2 else "even",
             "state": "deleted" if n in (4, 6) else "active"} for n in range(1, 10)]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    return table


def live(table: Table, names: Collection[str]) -> list[ColumnElement[bool]]:
    return [*equal(table, names, "org_id", "kind"), table.c.state == "active"]


def page_ids(engine: Engine, table: Table, values: dict[str, str], *, after: str | None = None,
             limit: int = 2) -> tuple[list[str], bool]:
    with engine.connect() as conn:
        rows, more = newest_first(conn, table, live, values, after=after, limit=limit)
    return [row["id"] for row in rows], more


def test_pages_walk_a_tenants_live_rows_newest_first(engine: Engine, items: Table) -> None:
    seen, after, more = [], None, True
    while more:
        ids, more = page_ids(engine, items, {"org_id": "a"}, after=after)
        seen += ids
        after = ids[-1] if ids else None
    assert seen == ["item_7", "item_5", "item_3", "item_2", "item_1"]


def test_an_optional_filter_is_its_own_shape(engine: Engine, items: Table) -> None:
    assert page_ids(engine, items, {"org_id": "a", "kind": "even"}, limit=5) == (["item_2"],
                                                                                 False)
    assert page_ids(engine, items, {"org_id": "a"}, limit=5)[0][0] == "item_7"


@pytest.mark.parametrize("after", ["item_8", "no_such_item"])
def test_a_cursor_outside_the_tenant_gives_an_empty_page(engine: Engine, items: Table,
                                                         after: str) -> None:
    """Another tenant's row or an unknown id: nothing, and no more."""
    assert page_ids(engine, items, {"org_id": "a"}, after=after) == ([], False)


def test_a_row_deleted_since_its_page_still_marks_the_place(engine: Engine,
                                                             items: Table) -> None:
    assert page_ids(engine, items, {"org_id": "a"}, after="item_4") == (["item_3", "item_2"],
                                                                        True)


def test_a_shape_is_built_once_and_reused_with_new_values(engine: Engine, items: Table) -> None:
    paging._page.cache_clear()
    for org in ("a", "b", "a"):
        page_ids(engine, items, {"org_id": org})
    page_ids(engine, items, {"org_id": "a"}, after="item_7")
    info = paging._page.cache_info()
    assert (info.misses, info.hits) == (2, 2)  # without and with a cursor
