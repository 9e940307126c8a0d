"""The organization-state cache: no query while no state changed, fresh after a change."""

from __future__ import annotations

import pytest

from interfaces.http.organization_states import OrganizationStates
from projections.signal import ChangeSignal, TrackingSignals
from projections.tenancy.projection import ORGANIZATION_STATES

pytestmark = pytest.mark.anyio


class Lookups:
    def __init__(self) -> None:
        self.state, self.calls = "active", 0

    def __call__(self, org_hex: str) -> str | None:
        self.calls += 1
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
    now[0] = 0.5
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
