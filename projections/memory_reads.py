"""Reads that may run on the event loop: answered from what this process keeps in memory,
or refused before they touch the database.

A list request whose page is kept (projections/page_cache.py) needs no query at all, yet a
synchronous handler still paid a hop to a worker thread and back, the largest single cost of
such a read. Under `from_memory()`, every place a read would query calls `need_query()` first
and raises `NotInMemory` instead; the caller then runs the same read again in a thread. Reads
only: nothing may have been changed before the refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_memory_only: ContextVar[bool] = ContextVar("bitstride_memory_only", default=False)


class NotInMemory(Exception):  # noqa: N818 (a signal to retry elsewhere, not a failure)
    """A read under `from_memory()` needed the database."""


@contextmanager
def from_memory() -> Iterator[None]:
    token = _memory_only.set(True)
    try:
        yield
    finally:
        _memory_only.reset(token)


def need_query() -> None:
    """Call where a read is about to query; refuses under `from_memory()`."""
    if _memory_only.get():
        raise NotInMemory
