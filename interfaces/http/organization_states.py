"""Organizations' states (active, deleted), as every authenticated request checks them.

Read from the tenancy read model in a worker thread and kept briefly: a request pays for no
query while no organization's state changed. An entry lasts until the tenancy projection
next commits a change of state that this process hears (its own commit, or another process's
by NOTIFY; `changes` is the watch signal of that topic, `ORGANIZATION_STATES`) and at most
`ttl` seconds, so a deleted organization is refused as soon as its deletion is projected, as
before the cache. Under a write load the tenancy projection commits at every request: moving
on at each of its commits, the cache missed on every write (a query and a thread hop each).

An entry still in use past half its `ttl` is read again in the background while requests go
on with it: at 200 requests a second, waiting for the read once a second (a thread hop, a
ping and two queries) put a request or two of every second in the gateway's p99.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple

import anyio.to_thread
import structlog

from projections.signal import ChangeSignal

log = structlog.get_logger("bitstride.http")

ORG_STATE_SECONDS = 1.0
ORG_STATE_ENTRIES = 10_000
REFRESH_AFTER = 0.5  # of the ttl: an entry older than this is read again in the background


class _Entry(NamedTuple):
    state: str | None
    refresh_at: float
    expires_at: float
    generation: int


class OrganizationStates:
    def __init__(self, lookup: Callable[[str], str | None], *,
                 changes: ChangeSignal | None = None, ttl: float = ORG_STATE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup, self._changes, self._ttl, self._clock = lookup, changes, ttl, clock
        self._states: dict[str, _Entry] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def _generation(self) -> int:
        return self._changes.generation() if self._changes is not None else 0

    async def state(self, org_hex: str) -> str | None:
        now, generation = self._clock(), self._generation()
        found = self._states.get(org_hex)
        if found is None or found.generation != generation or found.expires_at <= now:
            return await self._read(org_hex, now, generation)
        if found.refresh_at <= now and org_hex not in self._refreshing:
            task = asyncio.get_running_loop().create_task(
                self._refresh(org_hex, now, generation))
            self._refreshing[org_hex] = task
        return found.state

    async def refreshes_done(self) -> None:
        """Wait for the background reads started so far (for tests)."""
        await asyncio.gather(*self._refreshing.values())

    async def _read(self, org_hex: str, now: float, generation: int) -> str | None:
        """`generation` was taken before the read: a change meanwhile outdates the entry."""
        state = await anyio.to_thread.run_sync(self._lookup, org_hex)
        if len(self._states) >= ORG_STATE_ENTRIES:
            self._states.clear()
        self._states[org_hex] = _Entry(state, now + self._ttl * REFRESH_AFTER, now + self._ttl,
                                       generation)
        return state

    async def _refresh(self, org_hex: str, now: float, generation: int) -> None:
        """A failed read is not tried again in the background: the entry runs out, and the
        next request after it reads (and answers an outage) itself."""
        try:
            await self._read(org_hex, now, generation)
        except Exception as error:  # logged once; the entry's expiry bounds what it costs
            log.info("organization_state_refresh_failed", org_id=org_hex,
                     error_class=type(error).__name__)
            found = self._states.get(org_hex)
            if found is not None:
                self._states[org_hex] = found._replace(refresh_at=found.expires_at)
        finally:
            self._refreshing.pop(org_hex, None)
