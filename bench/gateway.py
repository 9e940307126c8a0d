"""Pair 4: `/v1/chat/completions` through `bitstride serve --mode gateway` against calling the
same OpenAI-compatible upstream (the reference server) directly."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx

from bench import cpu, openloop, wrk
from bench.context import BenchContext
from bench.processes import Process, free_port, python_module
from bench.report import Row, Section, Target
from bench.stats import median, percentile

TITLE = "4. Gateway"
MODEL = "smollm2-135m-instruct"  # a servable base model of the catalog, served by the upstream
ROUTE_SECONDS = 60.0
METHOD = """
The upstream is the reference server (`python -m infra.reference.server --base --model-name
{model}`, one uvicorn process), deployed with the `upstream` backend; the gateway is `bitstride
serve --mode gateway` (one process) beside the worker that probes the upstream. Each request
asks for {tokens} tokens of a one-message chat with the API key; the direct calls send the
same body and header straight to the upstream.

**Open loop** (bench/openloop.py, asyncio + aiohttp on uvloop): {rate:g} requests per second
arrive on a fixed schedule for each round ({seconds:g} s after a 0.5 s warm-up), whatever the
answers do; latency counts from each request's scheduled start, and a request still open 5 s
after the schedule ends is counted as failed (so a server that cannot keep up shows it as
failures and low throughput instead of stretching the round). Added latency = gateway
percentile - direct percentile (medians over rounds). Streams: the same at the same rate with
`"stream": true`; time to first byte of the body, which is the first SSE event. The load
generator's garbage collector is paused while a round is measured (bench/quiet.py): a full
collection of the bench process took about 45 ms, and its stall was counted against
whichever server the round was measuring.
**CPU per request**: the user + system time each process used during the plain rounds
(bench/cpu.py, from `/proc`), over the requests answered; the gateway's child processes are
its usage writer. During the direct rounds the gateway, its writer and the worker are idle:
their figures there are what they cost at rest, spread over the same requests. **Capacity**:
wrk, {clients} closed-loop clients, non-streamed. Every kind of round alternates direct,
gateway. The upstream's own work (sampling {tokens} tokens with numpy) shares the 2 cores
with the gateway and the load generator, so the capacity ratio is a machine-wide one.
"""


@dataclass
class Side:
    """What one side (direct or through the gateway) measured, one entry per round."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    ttft50: list[float] = field(default_factory=list)
    ttft99: list[float] = field(default_factory=list)
    capacity: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # µs per request, by process
    errors: int = 0


GATEWAY, WRITER = "gateway process", "its usage writer"


@dataclass(frozen=True)
class Processes:
    """The pids whose CPU time is counted, by group (each with its descendants); the
    gateway's group is its one process, whose children are its usage writer."""

    groups: dict[str, list[int]]

    def per_request(self, before: cpu.Snapshot, after: cpu.Snapshot,
                    requests: int) -> dict[str, float]:
        spent = cpu.used(before, after)
        alone = cpu.used_by(before, after, GATEWAY, self.groups[GATEWAY][0])
        spent = {GATEWAY: alone, WRITER: spent.pop(GATEWAY) - alone, **spent}
        return {name: seconds / max(requests, 1) * 1e6 for name, seconds in spent.items()}


def _deploy(context: BenchContext, upstream: str, gateway_url: str, body: bytes,
            headers: dict[str, str]) -> None:
    """The deployment, then wait until the gateway routes the model (its routing table)."""
    created = httpx.post(f"{context.api_url}/v1/deployments", headers=headers, timeout=30,
                         json={"model": MODEL, "backend": "upstream",
                               "upstream_url": f"{upstream}/v1"})
    created.raise_for_status()
    deadline = time.monotonic() + ROUTE_SECONDS
    while time.monotonic() < deadline:
        answer = httpx.post(f"{gateway_url}/v1/chat/completions", content=body,
                            headers=headers, timeout=30)
        if answer.status_code == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not route {MODEL} within {ROUTE_SECONDS:.0f} s")


def _round(context: BenchContext, url: str, side: Side, *, body: bytes, stream_body: bytes,
           headers: dict[str, str], processes: Processes) -> None:
    config = context.config
    chat = f"{url}/v1/chat/completions"
    before = cpu.snapshot(processes.groups)
    plain = openloop.run(chat, body, headers, rate=config.rate, seconds=config.seconds)
    spent = processes.per_request(before, cpu.snapshot(processes.groups),
                                  len(plain.latencies()))
    for name, micros in spent.items():
        side.cpu.setdefault(name, []).append(micros)
    side.p50.append(percentile(plain.latencies(), 50) * 1000)
    side.p99.append(percentile(plain.latencies(), 99) * 1000)
    side.throughput.append(plain.throughput)
    streamed = openloop.run(chat, stream_body, headers, rate=config.rate,
                            seconds=config.seconds, stream=True)
    side.ttft50.append(percentile(streamed.first_bytes(), 50) * 1000)
    side.ttft99.append(percentile(streamed.first_bytes(), 99) * 1000)
    loaded = wrk.run(url, "POST", "/v1/chat/completions", token=headers["Authorization"][7:],
                     body=body.decode(), seconds=config.seconds,
                     concurrency=config.concurrency)
    side.capacity.append(loaded.rate)
    side.errors += plain.errors + streamed.errors + loaded.errors


def _rows(context: BenchContext, ours: Side, direct: Side) -> list[Row]:
    config = context.config
    errors = f"failed requests: gateway {ours.errors}, direct {direct.errors}"

    def row(measure: str, unit: str, mine: list[float], theirs: list[float],
            target: Target | None, *, compare: str = "added") -> Row:
        return Row(TITLE, measure, unit, median(mine), median(theirs), "direct to upstream",
                   target, mine, theirs, note=errors, compare=compare)  # type: ignore[arg-type]

    at = f"at {config.rate:g} req/s"
    return [
        row(f"latency p50 {at}", "ms", ours.p50, direct.p50, Target("added_at_most", 1.0)),
        row(f"latency p99 {at}", "ms", ours.p99, direct.p99, Target("added_at_most", 5.0)),
        row(f"throughput {at} offered", "req/s", ours.throughput, direct.throughput,
            Target("ratio_at_least", 0.5), compare="ratio"),
        row(f"capacity, {config.concurrency} clients", "req/s", ours.capacity,
            direct.capacity, Target("ratio_at_least", 0.5), compare="ratio"),
        row(f"stream time to first byte p50 {at}", "ms", ours.ttft50, direct.ttft50, None),
        row(f"stream time to first byte p99 {at}", "ms", ours.ttft99, direct.ttft99, None),
        *(row(f"CPU per request {at}: {name}", "µs", ours.cpu[name], direct.cpu[name], None)
          for name in ours.cpu),
    ]


def _processes(context: BenchContext, upstream: Process) -> Processes:
    deployment = context.deployment
    groups = {GATEWAY: deployment.pids("gateway"),
              "worker": deployment.pids("worker", "own-worker")}
    if context.postgres_pid is not None:
        groups["Postgres"] = [context.postgres_pid]
    groups["upstream"] = [upstream.popen.pid]
    return Processes(groups)


def run(context: BenchContext) -> Section:
    config = context.config
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}"
    upstream = Process(python_module("infra.reference.server", "--base", "--model-name", MODEL,
                                     "--port", str(port)),
                       context.deployment.env, context.workdir / "upstream.log")
    request = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}],
               "max_tokens": config.max_tokens}
    body = json.dumps(request).encode()
    stream_body = json.dumps({**request, "stream": True}).encode()
    headers = {"Authorization": f"Bearer {context.api_key}", "Content-Type": "application/json"}
    try:
        upstream.wait_http(f"{upstream_url}/health")
        gateway_url = context.deployment.start_api("gateway", mode="gateway")
        _deploy(context, upstream_url, gateway_url, body, headers)
        processes = _processes(context, upstream)
        ours, direct = Side(), Side()
        for _ in range(config.rounds):
            _round(context, upstream_url, direct, body=body, stream_body=stream_body,
                   headers=headers, processes=processes)
            _round(context, gateway_url, ours, body=body, stream_body=stream_body,
                   headers=headers, processes=processes)
    finally:
        context.deployment.stop("gateway")
        upstream.stop()
    return Section(TITLE, METHOD.format(model=MODEL, tokens=config.max_tokens, rate=config.rate,
                                        seconds=config.seconds, clients=config.concurrency),
                   _rows(context, ours, direct))
