"""List pages kept in memory (projections/page_cache.py), through the HTTP API: a repeated
list costs no query, and a client reads its own writes and no other tenant's rows."""

from __future__ import annotations

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, sign_up

pytestmark = pytest.mark.anyio


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
