"""Run a read on the event loop when memory answers it, else in a worker thread.

List handlers are synchronous code (their queries are), and Litestar runs such handlers in a
thread. When the page is kept in memory there is nothing to wait for, and the hop to the
thread and back was the largest single cost of a list request; see projections/memory_reads.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from projections.memory_reads import NotInMemory, from_memory

T = TypeVar("T")


async def memory_first(read: Callable[[], T]) -> T:
    try:
        with from_memory():
            return read()
    except NotInMemory:
        return await anyio.to_thread.run_sync(read)
