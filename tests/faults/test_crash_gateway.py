"""A gateway process under streaming load, stopped hard (`kill -9`) and gracefully (SIGTERM).

A full plane runs in this process (its deployment controller makes a scripted upstream's
deployment ready); a real `bitstride serve --mode gateway` process shares its Postgres event
store, and clients stream chat completions through it until it is stopped. Then the Usage log
is read and compared with what the clients saw (README, "Inference gateway", Metering):

- `kill -9`: the loss is what was still buffered, the requests of the last flush interval
  (`GATEWAY_USAGE_FLUSH_SECONDS`, 0.1 s): every request completed longer ago than that, plus a
  batch's write, is metered; none twice. Streams in flight at the kill are cut, never metered.
- SIGTERM: every stream in flight finishes with `[DONE]`, and every request is metered, with
  no timed flush at all (300 s): the shutdown's own flush writes everything.
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import (
    SHUTDOWN_SECONDS,
    ServerProcess,
    free_port,
    in_process,
    running,
    sign_up,
)
from tests.e2e.test_api_keys import bearer, make_key
from tests.e2e.test_gateway import CHAT, deploy_stub, ready, reap, stub_chat
from tests.e2e.test_worker_restart import kill_hard
from tests.faults.crashing import metered_requests, shared_store_env
from tests.support import stub_upstream
from tests.support.stub_upstream import running_stub

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres]

CLIENTS = 8  # concurrent streams: "ok" ones (3 chunks at once), and "slow" ones of ~1 s
FLUSH_SECONDS = 0.1  # the default GATEWAY_USAGE_FLUSH_SECONDS, the README's window
# A kill loses what was accepted since the last flush began, and that flush if it had not
# committed: records a flush interval old, plus a batch's write time on a busy machine.
LOSS_WINDOW_SECONDS = FLUSH_SECONDS + 0.75
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Request:
    """One streamed request as its client saw it."""

    started: float
    ended: float
    request_id: str | None  # from X-Request-ID: the gateway answered
    done: bool  # `data: [DONE]` arrived


@dataclass
class Load:
    """Clients streaming through one gateway, one request after another each, until it is
    gone (a request that gets no answer at all); what they saw."""

    base: str
    key: dict[str, Any]
    seen: list[Request] = field(default_factory=list)
    streaming: int = 0  # answered, not yet ended

    @property
    def completed(self) -> list[Request]:
        return [request for request in self.seen if request.done]

    async def run(self, modes: list[str]) -> None:
        """A client per mode (`stub_chat`'s: "ok", "slow")."""
        async with httpx.AsyncClient(base_url=self.base, timeout=WAIT_SECONDS,
                                     limits=httpx.Limits(max_connections=len(modes))) as http, \
                anyio.create_task_group() as clients:
            for mode in modes:
                clients.start_soon(self._client, http, mode)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert time.monotonic() < deadline, f"no {what} within {WAIT_SECONDS:g} s"
            await anyio.sleep(0.02)

    async def _client(self, http: httpx.AsyncClient, mode: str) -> None:
        while True:
            request = await self._stream(http, mode)
            self.seen.append(request)
            if request.request_id is None:
                return

    async def _stream(self, http: httpx.AsyncClient, mode: str) -> Request:
        started, request_id, done = time.monotonic(), None, False
        try:
            async with http.stream("POST", CHAT, headers=bearer(self.key),
                                   json=stub_chat(mode, stream=True)) as response:
                request_id = response.headers.get("x-request-id")
                self.streaming += 1
                try:
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            done = line == "data: [DONE]"
                finally:
                    self.streaming -= 1
        except httpx.TransportError:  # the gateway went away: no answer, or a stream cut short
            done = False
        return Request(started, time.monotonic(), request_id, done)


@dataclass
class Gateway:
    """A gateway process serving a ready deployment, and a load (not yet running) on it."""

    plane: ControlPlane
    process: ServerProcess
    load: Load


def routed(base: str) -> bool:
    """The gateway answers, and its routing table serves the deployment."""
    try:
        readiness = httpx.get(f"{base}/ready", timeout=1.0)
    except httpx.TransportError:
        return False
    return readiness.status_code == 200 and bool(readiness.json()["deployments"])


@pytest.fixture
def flush_seconds() -> float:
    """The gateway's GATEWAY_USAGE_FLUSH_SECONDS (a test may parametrize it)."""
    return FLUSH_SECONDS


@pytest.fixture
async def gateway(postgres_settings: Settings, tmp_path: Path, flush_seconds: float,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    """The plane in this process deploys the scripted upstream while the gateway process
    starts (after the plane made the tables: two processes creating one table collide)."""
    monkeypatch.setattr(stub_upstream, "SLOW_CHUNKS", 30)  # "slow": a stream of about 1 s
    monkeypatch.setattr(stub_upstream, "SLOW_INTERVAL", 0.03)
    settings = postgres_settings.with_overrides(deployment_controller=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = shared_store_env(settings, GATEWAY_USAGE_FLUSH_SECONDS=str(flush_seconds))
    try:
        with running_stub(free_port()) as stub:
            async with in_process(settings) as (plane, client):
                with running(["serve", "--mode", "gateway", "--host", "127.0.0.1", "--port",
                              str(port)], env, tmp_path / "gateway.log") as process:
                    ada = await sign_up(client)
                    key = await make_key(client, ada, ["inference:write"])
                    await ready(plane, await deploy_stub(client, ada, stub))
                    await anyio.to_thread.run_sync(lambda: process.wait_until(
                        lambda: routed(base), "a routed deployment on /ready"))
                    yield Gateway(plane, process, Load(base, key))
    finally:
        reap(settings)


async def test_kill_9_loses_at_most_the_last_flush_interval_of_usage(
        gateway: Gateway) -> None:
    load = gateway.load
    async with anyio.create_task_group() as clients:
        clients.start_soon(load.run, ["ok"] * (CLIENTS - 2) + ["slow"] * 2)
        # Until some requests are older than the window (they must all be metered).
        await load.until(lambda: any(
            time.monotonic() - request.ended > LOSS_WINDOW_SECONDS + 0.5
            for request in load.completed), "request older than the loss window")
        killed_at = time.monotonic()
        kill_hard(gateway.process)

    answered = {r.request_id for r in load.seen if r.request_id is not None}
    metered = await anyio.to_thread.run_sync(lambda: metered_requests(gateway.plane))
    assert set(metered.values()) == {2}  # both meters, once each
    assert set(metered) <= answered  # nothing the clients did not ask for
    lost = [r for r in load.completed if r.request_id not in metered]
    ages = sorted(round(killed_at - r.ended, 2) for r in lost)
    assert not [age for age in ages if age > LOSS_WINDOW_SECONDS], ages
    print(f"kill -9: {len(load.completed)} completed, {len(metered)} metered, {len(lost)} "
          f"lost (ages {ages[:1]}..{ages[-1:]} s), "
          f"{len(answered) - len(load.completed)} cut in flight, never metered")


# No timed flush during the test: only the shutdown's flush can write the usage.
@pytest.mark.parametrize("flush_seconds", [300.0])
async def test_sigterm_finishes_streams_in_flight_and_meters_every_request(
        gateway: Gateway) -> None:
    load, process = gateway.load, gateway.process.process
    async with anyio.create_task_group() as clients:
        clients.start_soon(load.run, ["slow"] * CLIENTS)
        # A wave of streams done, and the next wave in flight.
        await load.until(lambda: len(load.completed) >= CLIENTS
                         and load.streaming == CLIENTS, "second wave of streams")
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await anyio.to_thread.run_sync(lambda: process.wait(SHUTDOWN_SECONDS))
    exited = time.monotonic() - stopped_at
    assert code == 0, gateway.process.output()  # a clean stop, after the drain

    answered = [r for r in load.seen if r.request_id is not None]
    in_flight = [r for r in answered if r.started < stopped_at < r.ended]
    assert len(in_flight) >= CLIENTS // 2, "the stop found few streams to finish"
    assert [r for r in answered if not r.done] == []  # every stream ended with [DONE]
    metered = await anyio.to_thread.run_sync(lambda: metered_requests(gateway.plane))
    assert metered == {r.request_id: 2 for r in answered}
    print(f"SIGTERM: {len(in_flight)} streams in flight finished, {len(answered)} metered, "
          f"exited after {exited:.2f} s")
