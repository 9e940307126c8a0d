"""`memory_first`: a read answered from memory runs on the event loop; one that needs the
database is refused there and runs again in a worker thread."""

from __future__ import annotations

import threading

import pytest

from interfaces.http.memory_first import memory_first
from projections.memory_reads import NotInMemory, from_memory, need_query

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_read_from_memory_stays_on_the_loop() -> None:
    assert await memory_first(threading.get_ident) == threading.get_ident()


async def test_a_read_that_queries_runs_again_in_a_thread() -> None:
    attempts: list[int] = []

    def read() -> int:
        attempts.append(threading.get_ident())
        need_query()
        return threading.get_ident()

    ran_on = await memory_first(read)
    assert attempts == [threading.get_ident(), ran_on]
    assert ran_on != threading.get_ident()


def test_need_query_refuses_only_inside_from_memory() -> None:
    need_query()
    with from_memory(), pytest.raises(NotInMemory):
        need_query()
    need_query()
