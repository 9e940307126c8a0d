"""List pages of one projection, kept in memory while that projection has not moved.

A list request that repeats (a dashboard polling its jobs, a client walking its projects)
used to pay a query each time: on two cores, one round trip to Postgres, however small the
query, costs more than all of the rest of a list request. A page is answered from memory
while the projection's position, as this process last heard it announced, is the one it was
read at. Commits are announced before read-your-writes waiters wake
(projections/signal.py), so a client that wrote, and waited, never reads a page older than
its write.

The position is `version()`: None when this process has heard none since it started
listening (no caching then), and a new value on every commit of the projection, whatever it
wrote. A page read while the version changed is not kept: it may predate the change. `ttl`
bounds what a missed announcement could cost; the positions are forgotten whenever the
listener reconnects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Engine, Table

from projections.memory_reads import need_query
from projections.paging import Row, Scope, newest_first

PAGE_SECONDS = 1.0
PAGES_KEPT = 1_000  # per projection; pages live a second, so few are ever in use at once
Page = tuple[list[Any], bool]
Presenter = Callable[[Row], Any]


def never_announced() -> Hashable | None:
    return None


class ProjectionPages:
    def __init__(self, engine: Engine, version: Callable[[], Hashable | None] = never_announced,
                 *, ttl: float = PAGE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self._version, self._ttl, self._clock = engine, version, ttl, clock
        self._pages: dict[Hashable, tuple[Hashable, float, Page]] = {}
        self._lock = threading.Lock()
        self.queries = 0  # pages read from the database, for tests

    def newest_first(self, table: Table, scope: Scope, values: Mapping[str, Any], *,
                     after: str | None, limit: int, present: Presenter = dict) -> Page:
        """As `paging.newest_first`, each row made into `present(row)`.

        By default rows are copies, so a caller may change them. Any other `present` (an API
        presenter, which must be the same object on every call to share pages) runs once per
        kept page: what it made is shared between callers, and read-only."""
        key = (table.name, scope, tuple(sorted(values.items())), after, limit, present)
        version, now = self._version(), self._clock()
        with self._lock:
            kept = self._pages.get(key)
        if version is not None and kept is not None and kept[0] == version and kept[1] > now:
            return _handed_out(kept[2], present)
        need_query()
        with self.engine.connect() as conn:
            rows, has_more = newest_first(conn, table, scope, values, after=after, limit=limit)
        self.queries += 1
        page = [present(row) for row in rows], has_more
        if version is not None and self._version() == version:
            with self._lock:
                if len(self._pages) >= PAGES_KEPT:
                    self._pages.clear()
                self._pages[key] = (version, now + self._ttl, page)
        return _handed_out(page, present)


def _handed_out(page: Page, present: Presenter) -> Page:
    items, has_more = page
    return ([dict(item) for item in items] if present is dict else list(items)), has_more
