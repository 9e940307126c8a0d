"""freeze_startup_heap: what exists is kept off the collector, garbage first collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from infra.heap import freeze_startup_heap


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_garbage_is_collected_then_the_rest_frozen() -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second  # a cycle: only the collector frees it
    assert gone() is not None and gc.get_freeze_count() == 0
    freeze_startup_heap()
    assert gone() is None  # collected, not frozen
    assert gc.get_freeze_count() > 0
