"""List pages kept in memory (projections/page_cache.py), through the HTTP API: a repeated
list costs no query, a client reads its own writes and no other tenant's rows, and a list
handler answers on the event loop only from memory (interfaces/http/memory_first.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, sign_up
from tests.e2e.test_api_keys import bearer, make_key

pytestmark = pytest.mark.anyio

LIST_ROUTES = ("/v1/projects", "/v1/datasets", "/v1/models", "/v1/fine_tuning/jobs",
               "/v1/rl/jobs", "/v1/deployments")


async def listed(client: httpx.AsyncClient, account: Account) -> list[str]:
    response = await client.get("/v1/projects", headers=account.headers)
    assert response.status_code == 200, response.text
    return [project["id"] for project in response.json()["data"]]


async def test_a_repeated_list_is_read_once_and_moves_on_with_writes(
        plane: ControlPlane, client: httpx.AsyncClient) -> None:
    ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
    first = (await create_project(client, ada, "First"))["id"]
    pages = plane.queries.pages

    assert await listed(client, ada) == [first]
    read = pages.queries
    assert await listed(client, ada) == [first]
    assert pages.queries == read  # answered from memory

    assert await listed(client, bob) == []  # another tenant: a page of its own
    second = (await create_project(client, ada, "Second"))["id"]
    assert await listed(client, ada) == [second, first]  # read-your-writes
    assert pages.queries == read + 2


@contextmanager
def statements_on_this_thread(*engines: Engine) -> Iterator[list[str]]:
    """The SQL run on the calling thread (here: the event loop's) while the block runs."""
    here, seen = threading.get_ident(), []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if threading.get_ident() == here:
            seen.append(statement)

    for engine in set(engines):
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in set(engines):
            event.remove(engine, "before_cursor_execute", record)


async def test_list_routes_never_query_on_the_event_loop(
        plane: ControlPlane, client: httpx.AsyncClient) -> None:
    ada = await sign_up(client, "ada")
    project = await create_project(client, ada, "Kept")
    project_key = await make_key(client, ada, ["read"], project_id=project["id"])
    callers = (ada.headers, bearer(project_key))

    with statements_on_this_thread(plane.query_engine, plane.read_engine) as on_loop:
        for headers in callers:
            for route in LIST_ROUTES:
                for _ in range(2):  # read in a worker thread, then answered from memory
                    response = await client.get(route, headers=headers)
                    assert response.status_code == 200, (route, response.text)
    assert on_loop == []
