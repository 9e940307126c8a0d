"""Open-loop load: requests start on a fixed schedule (rate per second) whether or not earlier
ones have answered, so a slow server cannot slow the arrivals down (no coordinated omission).
Latency counts from each request's scheduled start; time to first byte, for streams, too.

The client is aiohttp: it shares the machine's two cores with both sides of the pair, and
httpx spent about 2 ms of CPU per request at this concurrency, aiohttp about 0.1 ms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import uvloop

from bench.quiet import collector_paused

TIMEOUT_SECONDS = 30.0
WARM_UP_SECONDS = 0.5  # at the same rate, not counted: connections opened, caches warm
# Past the schedule, answers get this long; those still open then are failures. A server that
# cannot keep up would otherwise stretch a round by its whole backlog.
DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    latency: float                   # seconds, scheduled start to the end of the answer
    first_byte: float | None = None  # seconds, scheduled start to the first body bytes


@dataclass(frozen=True)
class OpenLoopResult:
    outcomes: Sequence[Outcome]
    seconds: float  # first scheduled start to the last answer

    @property
    def errors(self) -> int:
        return sum(not outcome.ok for outcome in self.outcomes)

    @property
    def throughput(self) -> float:
        """Successful answers per second."""
        ok = len(self.outcomes) - self.errors
        return ok / self.seconds if self.seconds else 0.0

    def latencies(self) -> list[float]:
        return [o.latency for o in self.outcomes if o.ok]

    def first_bytes(self) -> list[float]:
        return [o.first_byte for o in self.outcomes if o.ok and o.first_byte is not None]


async def _one(client: aiohttp.ClientSession, url: str, *, body: bytes,
               headers: Mapping[str, str], scheduled: float, stream: bool) -> Outcome:
    first: float | None = None
    try:
        async with client.post(url, data=body, headers=dict(headers)) as response:
            async for chunk in response.content.iter_any():
                if first is None and chunk and stream:
                    first = time.perf_counter() - scheduled
            ok = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    return Outcome(ok, time.perf_counter() - scheduled, first)


async def _schedule(client: aiohttp.ClientSession, url: str, *, body: bytes,
                    headers: Mapping[str, str], rate: float, seconds: float,
                    stream: bool) -> OpenLoopResult:
    start = time.perf_counter() + 0.01
    tasks = []
    for index in range(max(1, int(rate * seconds))):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(client, url, body=body, headers=headers,
                                              scheduled=scheduled, stream=stream)))
    _, late = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
    ended = time.perf_counter()
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    outcomes = [Outcome(False, ended - start) if task in late else task.result()
                for task in tasks]
    return OpenLoopResult(outcomes, ended - start)


async def _run(url: str, *, body: bytes, headers: Mapping[str, str], rate: float,
               seconds: float, stream: bool) -> OpenLoopResult:
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as client:
        await _schedule(client, url, body=body, headers=headers, rate=rate,
                        seconds=WARM_UP_SECONDS, stream=stream)
        with collector_paused():
            return await _schedule(client, url, body=body, headers=headers, rate=rate,
                                   seconds=seconds, stream=stream)


def run(url: str, body: bytes, headers: Mapping[str, str], *, rate: float, seconds: float,
        stream: bool = False) -> OpenLoopResult:
    return uvloop.run(_run(url, body=body, headers=headers, rate=rate, seconds=seconds,
                          stream=stream))
