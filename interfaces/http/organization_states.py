"""Organizations' states (active, deleted), as every authenticated request checks them.

Read from the tenancy read model in a worker thread and kept briefly: a request pays for no
query while no organization's state changed. An entry lasts until the tenancy projection
next commits a change of state that this process hears (its own commit, or another process's
by NOTIFY; `changes` is the watch signal of that topic, `ORGANIZATION_STATES`) and at most
`ttl` seconds, so a deleted organization is refused as soon as its deletion is projected, as
before the cache. Under a write load the tenancy projection commits at every request: moving
on at each of its commits, the cache missed on every write (a query and a thread hop each).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio.to_thread

from projections.signal import ChangeSignal

ORG_STATE_SECONDS = 1.0
ORG_STATE_ENTRIES = 10_000


class OrganizationStates:
    def __init__(self, lookup: Callable[[str], str | None], *,
                 changes: ChangeSignal | None = None, ttl: float = ORG_STATE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup, self._changes, self._ttl, self._clock = lookup, changes, ttl, clock
        self._states: dict[str, tuple[str | None, float, int]] = {}

    def _generation(self) -> int:
        return self._changes.generation() if self._changes is not None else 0

    async def state(self, org_hex: str) -> str | None:
        now, generation = self._clock(), self._generation()
        found = self._states.get(org_hex)
        if found is not None and found[1] > now and found[2] == generation:
            return found[0]
        state = await anyio.to_thread.run_sync(self._lookup, org_hex)
        if len(self._states) >= ORG_STATE_ENTRIES:
            self._states.clear()
        self._states[org_hex] = (state, now + self._ttl, generation)
        return state
