"""GenerationRegistry: one read of the table shared by a process's supervisors (`current`),
and one reader of an expired pointer at a time (`active`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from infra.database import read_model_engine
from projections.generations import GenerationRegistry


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = read_model_engine(None, tmp_path / "read.sqlite3", "unused")
    yield made
    made.dispose()


def registry_on(engine: Engine, now: list[float]) -> GenerationRegistry:
    """A registry (one process's) whose clock reads `now[0]`."""
    return GenerationRegistry(engine, clock=lambda: now[0])


def test_supervisors_share_one_read_and_see_this_process_s_changes_at_once(
        engine: Engine) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement))
    now = [100.0]
    registry = registry_on(engine, now)
    registry.switch("tenancy", 1)
    registry.switch("usage", 1)

    statements.clear()
    assert registry.current("tenancy", max_age=0.5) == (1, None)
    assert registry.current("usage", max_age=0.5) == (1, None)
    assert registry.current("models", max_age=0.5) == (1, None)  # no row yet: generation 1
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1

    registry.propose("tenancy", 2)  # a change made here is seen at once, not half a second on
    assert registry.current("tenancy", max_age=0.5) == (1, 2)
    registry.switch("tenancy", 2)
    assert registry.current("tenancy", max_age=0.5) == (2, None)
    assert registry.active("tenancy") == 2

    other = registry_on(engine, now)  # another process
    other.switch("usage", 3)
    assert registry.current("usage", max_age=0.5) == (1, None)  # its read is still young
    now[0] += 0.5
    assert registry.current("usage", max_age=0.5) == (3, None)


def test_a_pointer_taken_from_the_shared_read_is_kept_a_second_from_that_read(
        engine: Engine) -> None:
    now = [100.0]
    registry = registry_on(engine, now)
    registry.switch("tenancy", 1)
    registry.current("usage", max_age=0.5)  # the table, read at 100.0
    registry_on(engine, now).switch("tenancy", 2)  # elsewhere
    now[0] = 100.4
    assert registry.current("tenancy", max_age=0.5) == (1, None)  # the shared read, still
    now[0] = 101.0  # a second after the read, not after the call that took it
    assert registry.active("tenancy") == 2


def test_an_expired_pointer_is_read_by_one_caller_while_the_others_keep_it(
        engine: Engine) -> None:
    now = [100.0]
    registry = registry_on(engine, now)
    registry.switch("tenancy", 1)
    registry_on(engine, now).switch("tenancy", 2)  # elsewhere
    now[0] = 101.0  # the pointer has expired
    reading, release = threading.Event(), threading.Event()
    reads: list[str] = []
    read_table = registry._read

    def slow_read(projection: str) -> tuple[int, int | None]:
        reads.append(projection)
        reading.set()
        release.wait(5)
        return read_table(projection)

    registry._read = slow_read  # type: ignore[method-assign]
    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(registry.active, "tenancy")
        assert reading.wait(5)
        assert [registry.active("tenancy") for _ in range(5)] == [1] * 5  # no read of theirs
        release.set()
        assert leader.result(5) == 2
    assert registry.active("tenancy") == 2 and reads == ["tenancy"]


def test_a_failed_read_leaves_the_next_caller_to_read(engine: Engine) -> None:
    now = [100.0]
    registry = registry_on(engine, now)
    registry.switch("tenancy", 1)
    now[0] = 101.0
    read_table = registry._read
    registry._read = lambda _projection: 1 / 0  # type: ignore[assignment,method-assign]
    with pytest.raises(ZeroDivisionError):
        registry.active("tenancy")
    registry._read = read_table  # type: ignore[method-assign]
    registry_on(engine, now).switch("tenancy", 3)
    assert registry.active("tenancy") == 3
