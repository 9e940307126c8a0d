"""The organization-state cache: no query while no state changed, fresh after a change."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interfaces.http.organization_states import OrganizationStates
from projections.signal import ChangeSignal, TrackingSignals
from projections.tenancy.projection import ORGANIZATION_STATES

pytestmark = pytest.mark.anyio


class Lookups:
    def __init__(self) -> None:
        self.state, self.calls = "active", 0
        self.error: Exception | None = None
        self.meanwhile: Callable[[], None] | None = None  # runs while a read is in flight

    def __call__(self, org_hex: str) -> str | None:
        self.calls += 1
        if self.meanwhile is not None:
            self.meanwhile()
        if self.error is not None:
            raise self.error
        return self.state


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_state_is_read_once_until_a_projection_commits() -> None:
    lookups, changes, now = Lookups(), ChangeSignal(), [0.0]
    states = OrganizationStates(lookups, changes=changes, ttl=1.0, clock=lambda: now[0])
    assert [await states.state("o1") for _ in range(3)] == ["active"] * 3
    assert lookups.calls == 1
    lookups.state = "deleted"
    changes.notify()  # the deletion was projected: the next request sees it
    assert await states.state("o1") == "deleted" and lookups.calls == 2


async def test_a_state_expires_after_its_ttl_without_any_commit() -> None:
    lookups, now = Lookups(), [0.0]
    states = OrganizationStates(lookups, changes=ChangeSignal(), ttl=1.0, clock=lambda: now[0])
    await states.state("o1")
    now[0] = 0.4  # before the background read would start
    await states.state("o1")
    now[0] = 1.01
    await states.state("o1")
    assert lookups.calls == 2


async def test_only_a_change_of_state_moves_the_cache_on() -> None:
    """As the control plane wires it: commits of the tenancy projection that change no
    organization's state (a project created, at every write) and other projections' commits
    (usage, ten a second under gateway load) cost no lookup; a change of state does."""
    lookups, signals, now = Lookups(), TrackingSignals(), [0.0]
    states = OrganizationStates(lookups, changes=signals.watch(ORGANIZATION_STATES), ttl=60.0,
                                clock=lambda: now[0])
    await states.state("o1")
    signals.notify("usage@1\tUsage\t41")
    signals.notify("audit-Tenancy@1")
    signals.notify("tenancy@1\tTenancy\t7")
    assert await states.state("o1") == "active" and lookups.calls == 1
    lookups.state = "deleted"
    signals.notify(ORGANIZATION_STATES)
    signals.notify("tenancy@1\tTenancy\t8")
    assert await states.state("o1") == "deleted" and lookups.calls == 2
    signals.notify(None)  # a listener reconnected and may have missed a change
    await states.state("o1")
    assert lookups.calls == 3


async def test_an_entry_in_use_is_read_again_before_it_expires() -> None:
    """Past half its ttl an entry is still answered, and read again in the background: a
    steady stream of requests never waits for the read."""
    lookups, now = Lookups(), [0.0]
    states = OrganizationStates(lookups, changes=ChangeSignal(), ttl=1.0, clock=lambda: now[0])
    await states.state("o1")
    lookups.state = "deleted"
    now[0] = 0.6
    assert await states.state("o1") == "active"  # answered at once, read in the background
    assert await states.state("o1") == "active"  # one read in flight, not one per request
    await states.refreshes_done()
    assert lookups.calls == 2
    assert await states.state("o1") == "deleted"
    now[0] = 1.5  # the refreshed entry lives a ttl from when its read began
    assert await states.state("o1") == "deleted" and lookups.calls == 2


async def test_a_failed_background_read_leaves_the_entry_to_expire() -> None:
    lookups, now = Lookups(), [0.0]
    states = OrganizationStates(lookups, changes=ChangeSignal(), ttl=1.0, clock=lambda: now[0])
    await states.state("o1")
    lookups.error = ConnectionError("database down")
    now[0] = 0.6
    assert await states.state("o1") == "active"
    await states.refreshes_done()
    assert await states.state("o1") == "active"  # not tried again in the background
    await states.refreshes_done()
    assert lookups.calls == 2
    now[0] = 1.01
    with pytest.raises(ConnectionError):  # past its ttl, the request reads and fails itself
        await states.state("o1")


async def test_a_change_during_a_background_read_outdates_its_result() -> None:
    lookups, changes, now = Lookups(), ChangeSignal(), [0.0]
    states = OrganizationStates(lookups, changes=changes, ttl=1.0, clock=lambda: now[0])
    await states.state("o1")
    now[0] = 0.6
    lookups.meanwhile = changes.notify  # the state changes while the background read runs
    await states.state("o1")
    await states.refreshes_done()
    lookups.meanwhile, lookups.state = None, "deleted"
    assert await states.state("o1") == "deleted" and lookups.calls == 3
