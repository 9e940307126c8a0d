"""What `bitstride serve` and `bitstride worker` do to their own process before serving:
freeze the start-up heap (out of the collector's reach), size the synchronous handlers' thread
pool and, for a gateway, shorten the GIL's switch interval. uvicorn and the worker's wait are
replaced; the plane is real (SQLite)."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import litestar.concurrency
import pytest
from click.testing import CliRunner
from litestar import Litestar, get

from infra.settings import load_settings
from interfaces.cli import main as cli_main
from interfaces.cli import serving
from interfaces.cli.main import cli


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    interval, handler = sys.getswitchinterval(), signal.getsignal(signal.SIGTERM)
    executor = litestar.concurrency.get_asyncio_executor()
    yield
    gc.unfreeze()
    sys.setswitchinterval(interval)
    signal.signal(signal.SIGTERM, handler)
    ours = litestar.concurrency.get_asyncio_executor()
    litestar.concurrency.set_asyncio_executor(executor)
    if ours is not None and ours is not executor:
        ours.shutdown(wait=False)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "AUTH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BITSTRIDE_DATA_DIR", str(tmp_path / "var"))


def test_run_http_freezes_the_heap_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.unfreeze()
    seen: dict[str, int] = {}

    def run(server: serving.DrainingServer, *_: Any) -> None:
        seen["frozen"] = gc.get_freeze_count()
        server.started = True

    monkeypatch.setattr(serving.DrainingServer, "run", run)
    serving.run_http(object(), "127.0.0.1", 0, load_settings({}))
    assert seen["frozen"] > 10_000  # modules, classes, the app: far more than a handful


def test_synchronous_handlers_run_on_as_many_threads_as_configured() -> None:
    """Twelve requests that can only finish together: the loop's default pool (six threads
    on two cores) would hold half of them back until the barrier broke."""
    meeting = threading.Barrier(12, timeout=10)

    @get("/meet", sync_to_thread=True)
    def meet() -> str:
        meeting.wait()
        return threading.current_thread().name

    async def twelve_at_once() -> list[Any]:
        transport = httpx.ASGITransport(app=Litestar([meet]))  # concurrent, unlike TestClient
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get("/meet") for _ in range(12)))

    serving.run_handlers_on(12)
    answers = asyncio.run(twelve_at_once())
    assert [answer.status_code for answer in answers] == [200] * 12
    assert all(answer.text.startswith("http-handler") for answer in answers)


@pytest.mark.parametrize(("mode", "favoured"), [("gateway", True), ("full", False)])
def test_only_a_gateway_shortens_the_switch_interval(
        embedded: None, monkeypatch: pytest.MonkeyPatch, mode: str, favoured: bool) -> None:
    sys.setswitchinterval(0.005)
    seen: dict[str, float] = {}

    def run_http(_app: Any, *_: Any) -> None:
        seen["interval"] = sys.getswitchinterval()

    monkeypatch.setattr(cli_main, "run_http", run_http)
    result = CliRunner().invoke(cli, ["serve", "--mode", mode, "--port", "0"])
    assert result.exit_code == 0, result.output
    expected = serving.GATEWAY_SWITCH_SECONDS if favoured else 0.005
    assert seen["interval"] == pytest.approx(expected)


def test_the_worker_freezes_its_heap_before_its_loops_start(
        embedded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.unfreeze()
    seen: dict[str, int] = {}
    monkeypatch.setattr(cli_main, "wait_for_signal",
                        lambda: seen.setdefault("frozen", gc.get_freeze_count()))
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 0, result.output
    assert seen["frozen"] > 10_000
