"""Forwarding one inference request to a replica, and accounting for it whatever happens.

**The path of a request.** Authenticate (an API key; in full mode a user token too) and
require `inference:write` → parse the body (only `model`, `stream`, the prompt and
`max_tokens` are read) → find the route in the in-memory routing table (no query) → admit it
with the rate limiter (estimated prompt + completion budget) → forward the body with `model`
set to the name the replicas serve, to the replicas in the balancer's order → answer → meter,
settle the limiter, observe the metrics: once, in a `finally` a client disconnect cannot skip.

**Failover.** Another replica is tried (at most MAX_ATTEMPTS in all) only while nothing has
been sent to the client: when connecting fails (the replica is then tried last for a few
seconds, see routing.py), when the connection breaks before an answer, or when the answer is a
5xx. A timeout is not retried (the replica may still be working on it, and a retry would run
the request twice).

**Timeouts** (settings): connecting (502 `upstream_unavailable`), a stream's first byte (504
`upstream_timeout`; a non-streamed answer comes whole, so it is bounded by the total only),
silence between a stream's chunks and the total deadline. Once a stream has begun, a stall or
the deadline can only end it: the client sees the stream stop without `[DONE]`, and the
request is metered with status 504. Deadlines are asyncio's own `asyncio.timeout`: an anyio
cancel scope cost about 12 us on the request loop (it asks sniffio which loop runs, a system
call), three times as much.

**Streams** are relayed chunk by chunk (`SseTap`, sse.py) from a pump task that reads the
upstream into a small bounded queue, so the relay can wait for the next chunk with a timeout
(sending `: keep-alive` comments after GATEWAY_KEEPALIVE_SECONDS of silence) without
cancelling a read. When the client goes away the relay is cancelled: the upstream response is
closed at once (its server stops generating) and the request is metered with status 499.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from application.gateway.ports import InferenceUsage, RequestLimiter, UsageMeter
from domain.identity.api_key_format import looks_like_api_key
from domain.shared.ids import format_id
from infra.metrics import Metrics
from infra.settings import RuntimeMode, Settings
from interfaces.http.bearer import BEARER_CHALLENGE, bearer_token
from interfaces.http.errors import CLIENT_CLOSED_REQUEST, ApiError
from interfaces.http.gateway.requests import (
    Endpoint,
    completion_budget,
    is_stream,
    parse_body,
    prompt_estimate,
    upstream_body,
    upstream_error,
    usage_counts,
    usage_of_answer,
)
from interfaces.http.gateway.routing import ModelRoute, ReplicaBalancer, RoutingTable, Target
from interfaces.http.gateway.sse import SseTap
from interfaces.http.gateway.upstream import (
    UpstreamBrokeError,
    UpstreamBusyError,
    UpstreamClient,
    UpstreamConnectError,
    UpstreamResponse,
)
from interfaces.http.request_id import arrived_at, request_id_of
from interfaces.http.security import Principal, check_organization, identify, require_scope

log = structlog.get_logger("bitstride.gateway")

MAX_ATTEMPTS = 3
QUEUE_CHUNKS = 64  # upstream reads buffered ahead of a slow client (then the pump waits)
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()


@dataclass(frozen=True)
class Timeouts:
    connect: float
    first_byte: float
    chunk: float
    total: float
    keepalive: float

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(connect=settings.gateway_connect_timeout_seconds,
                   first_byte=settings.gateway_first_byte_timeout_seconds,
                   chunk=settings.gateway_chunk_timeout_seconds,
                   total=settings.gateway_total_timeout_seconds,
                   keepalive=settings.gateway_keepalive_seconds)


@dataclass
class Exchange:
    """One admitted request on its way: what is needed to meter it once it ends."""

    endpoint: Endpoint
    principal: Principal
    route: ModelRoute
    targets: tuple[Target, ...]
    request_id: str  # X-Request-ID, sent upstream too
    metering_id: str  # unique per request: the usage record's idempotency key
    payload: bytes
    stream: bool
    wants_usage: bool
    input_estimate: int
    admitted_tokens: int
    arrived: float  # perf_counter
    arrived_at: float  # unix time
    target: Target | None = None  # the replica tried last
    holding: str | None = None  # the replica counted in flight for this request
    status: int = 502
    counts: tuple[int, int] | None = None  # (input, output) as the upstream reported them
    content_chunks: int = 0
    committed: bool = False  # a stream's 200 went out: only ending it is left
    upstream_seconds: float = 0.0
    upstream_since: float | None = None
    first_token: float | None = None
    finished: bool = False

    def deadline(self, timeouts: Timeouts) -> float:
        return self.arrived + timeouts.total

    def left(self, timeouts: Timeouts) -> float:
        return max(self.deadline(timeouts) - time.perf_counter(), 0.0)

    def upstream_begin(self) -> None:
        self.upstream_since = time.perf_counter()

    def upstream_end(self) -> None:
        if self.upstream_since is not None:
            self.upstream_seconds += time.perf_counter() - self.upstream_since
            self.upstream_since = None

    def tokens(self) -> tuple[int, int]:
        """What the upstream reported; for a stream that ended without it (the client left
        early, the upstream broke), the prompt's estimate and one token per content chunk
        sent; otherwise nothing was generated for the client: 0."""
        if self.counts is not None:
            return self.counts
        if self.committed:
            return self.input_estimate, self.content_chunks
        return 0, 0


class Gateway:
    """The inference routes' state in one app: HTTP client, balancer, accounting."""

    def __init__(self, *, mode: RuntimeMode, settings: Settings, routing: RoutingTable,
                 metrics: Metrics, meter: UsageMeter, limiter: RequestLimiter,
                 plane: Any) -> None:
        self.mode, self.settings, self.routing = mode, settings, routing
        self.metrics, self.meter, self.limiter = metrics, meter, limiter
        self.plane = plane
        self.timeouts = Timeouts.of(settings)
        self.balancer = ReplicaBalancer()
        self.organizations = plane.organization_states
        self.upstream = UpstreamClient(pool_size=settings.gateway_pool_size,
                                       connect_timeout=self.timeouts.connect)

    # -- lifecycle --------------------------------------------------------------------------

    async def startup(self) -> None:
        """One keep-alive pool for every replica; the routing table loaded before the first
        request where the read model answers (else /ready says so until it does)."""
        await self.upstream.start()
        if not self.routing.loaded:
            await anyio.to_thread.run_sync(self.routing.try_refresh)
        self.routing.start()

    async def shutdown(self) -> None:
        await self.upstream.close()

    # -- the request ------------------------------------------------------------------------

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal:
        if self.mode == "gateway" and not looks_like_api_key(bearer_token(request)):
            raise ApiError(401, "invalid_api_key", "The inference gateway accepts API keys "
                           "(bsk_…) only; create one with POST /v1/api_keys.",
                           headers=BEARER_CHALLENGE)
        principal = await identify(request, self.plane.verifier)
        check_organization(await self.organizations.state(principal.org_hex))
        return principal

    async def handle(self, request: Request[Any, Any, Any], endpoint: Endpoint) -> Response[Any]:
        principal = await self.authenticate(request)
        require_scope(principal, "inference:write")
        body = parse_body(await request.body())
        project = principal.project_id.hex if principal.project_id else None
        route = self.routing.snapshot.lookup(principal.org_hex, body["model"])
        targets = route.reachable(project) if route is not None else ()
        if route is None or not targets:
            raise ApiError(404, "model_not_found", f"The model `{body['model'][:200]}` does "
                           "not exist or is not deployed for you: no ready deployment serves "
                           "it.", param="model")
        payload, wants_usage = upstream_body(body, route.name)
        estimate = prompt_estimate(endpoint, body)
        admitted = estimate + completion_budget(endpoint, body)
        decision = await self.limiter.admit(org_id=format_id("org", principal.org_id),
                                            key_id=_key_id(principal),
                                            estimated_tokens=admitted)
        if not decision.allowed:
            self.metrics.gateway_requests.labels(route.name, "429").inc()
            retry = max(1, decision.retry_after_seconds)
            raise ApiError(429, "rate_limited", f"Rate limit reached ({decision.limit}); "
                           f"retry after {retry} s.", headers={"Retry-After": str(retry)})
        rid = request_id_of(request.scope) or f"req_{uuid.uuid4().hex}"
        # The usage records' key must be unique: a client's own X-Request-ID (echoed, and sent
        # upstream) may repeat, so its request is metered under an id of the gateway's.
        supplied = request.headers.get("x-request-id") == rid
        arrived = arrived_at(request.scope) or time.perf_counter()
        exchange = Exchange(
            endpoint=endpoint, principal=principal, route=route, targets=targets,
            request_id=rid, metering_id=f"req_{uuid.uuid4().hex}" if supplied else rid,
            payload=payload, stream=is_stream(body), wants_usage=wants_usage,
            input_estimate=estimate, admitted_tokens=admitted, arrived=arrived,
            arrived_at=time.time() - (time.perf_counter() - arrived))
        if exchange.stream:
            return await self._stream(exchange)
        return await self._unary(exchange)

    async def _unary(self, exchange: Exchange) -> Response[Any]:
        try:
            response = await self._open(exchange, self.timeouts.total)
            return await self._whole(exchange, response)
        finally:
            await self.finish(exchange)

    async def _stream(self, exchange: Exchange) -> Response[Any]:
        relayed = False
        try:
            response = await self._open(exchange, self.timeouts.first_byte)
            content_type = response.headers.get("content-type", "")
            if response.status_code >= 400 or "text/event-stream" not in content_type:
                return await self._whole(exchange, response)  # an error, or not a stream
            relayed = True
        finally:
            if not relayed:
                await self.finish(exchange)
        exchange.committed, exchange.status = True, response.status_code
        relay = _Relay(self, exchange, response)
        return Stream(relay.events(), media_type="text/event-stream", headers=SSE_HEADERS,
                      status_code=response.status_code, background=BackgroundTask(relay.close))

    async def _open(self, exchange: Exchange, answer_within: float) -> UpstreamResponse:
        """The first replica (in the balancer's order) that answers: its response, headers
        read, body not yet. Raises the 502/503/504 that ends the request otherwise."""
        order = self.balancer.order(exchange.targets)[:MAX_ATTEMPTS]
        failures: list[str] = []
        for attempt, target in enumerate(order, start=1):
            exchange.target = target
            self.balancer.acquire(target.url)
            exchange.holding = target.url
            exchange.upstream_begin()
            try:
                async with asyncio.timeout(min(answer_within, exchange.left(self.timeouts))):
                    response = await self.upstream.post(
                        target.url + exchange.endpoint.path, exchange.payload,
                        {"Content-Type": "application/json", "Accept-Encoding": "identity",
                         "X-Request-ID": exchange.request_id})
            except TimeoutError:
                self._let_go(exchange)
                exchange.status = 504
                raise ApiError(504, "upstream_timeout", "The model's server did not answer in "
                               "time.") from None
            except UpstreamBusyError:
                self._let_go(exchange)
                exchange.status = 503
                raise ApiError(503, "service_unavailable", "The gateway has no free "
                               "connection to the model's servers; retry shortly.",
                               headers={"Retry-After": "1"}) from None
            except UpstreamConnectError as error:
                self._let_go(exchange)
                self.balancer.eject(target.url)
                failures.append(f"{target.deployment_id}: {error}")
                continue
            except UpstreamBrokeError as error:  # the connection broke before an answer
                self._let_go(exchange)
                failures.append(f"{target.deployment_id}: {error}")
                continue
            if response.status_code >= 500 and attempt < len(order):
                await response.aclose()
                self._let_go(exchange)
                failures.append(f"{target.deployment_id}: HTTP {response.status_code}")
                continue
            if failures:
                log.warning("gateway_failover", model=exchange.route.name, failures=failures,
                            served_by=target.deployment_id)
            return response
        log.warning("gateway_upstream_unavailable", model=exchange.route.name,
                    failures=failures)
        exchange.status = 502
        raise ApiError(502, "upstream_unavailable", "No replica serving the model could be "
                       "reached; retry shortly.")

    def _let_go(self, exchange: Exchange) -> None:
        """The current attempt is over: no longer in flight, its time spent upstream."""
        exchange.upstream_end()
        if exchange.holding is not None:
            self.balancer.release(exchange.holding)
            exchange.holding = None

    async def _whole(self, exchange: Exchange, response: UpstreamResponse) -> Response[Any]:
        """Read a whole answer: pass a success through as it is, an error in our envelope."""
        try:
            async with asyncio.timeout(exchange.left(self.timeouts)):
                content = await response.aread()
        except TimeoutError:
            exchange.status = 504
            raise ApiError(504, "upstream_timeout", "The model's server did not answer in "
                           "time.") from None
        except UpstreamBrokeError as error:
            exchange.status = 502
            log.warning("gateway_upstream_broke", model=exchange.route.name,
                        error_class=str(error))
            raise ApiError(502, "upstream_error", "The model's server closed the connection "
                           "before its answer was complete.") from None
        finally:
            await response.aclose()
            self._let_go(exchange)
        status = response.status_code
        if status >= 400:
            error = upstream_error(status, content, response.headers.get("retry-after"))
            exchange.status = error.status
            raise error
        exchange.status = status
        exchange.counts = usage_of_answer(content)
        return Response(content, status_code=status,
                        media_type=response.headers.get("content-type", "application/json"))

    # -- accounting -------------------------------------------------------------------------

    async def finish(self, exchange: Exchange) -> None:
        """Meter, settle the rate limiter, observe the metrics: once per request."""
        if exchange.finished:
            return
        exchange.finished = True
        self._let_go(exchange)
        total = time.perf_counter() - exchange.arrived
        input_tokens, output_tokens = exchange.tokens()
        name, metrics = exchange.route.name, self.metrics
        metrics.gateway_requests.labels(name, str(exchange.status)).inc()
        metrics.gateway_latency.labels(name).observe(total)
        metrics.gateway_upstream.observe(exchange.upstream_seconds)
        metrics.gateway_overhead.observe(max(total - exchange.upstream_seconds, 0.0))
        if exchange.first_token is not None:
            metrics.gateway_ttft.labels(name).observe(exchange.first_token - exchange.arrived)
        if input_tokens:
            metrics.gateway_tokens.labels(name, "input").inc(input_tokens)
        if output_tokens:
            metrics.gateway_tokens.labels(name, "output").inc(output_tokens)
        principal, target = exchange.principal, exchange.target
        if target is not None:
            self.meter.record(InferenceUsage(
                request_id=exchange.metering_id, org_id=principal.org_id,
                project_id=_project_of(target, principal), api_key_id=_key_id(principal),
                model=exchange.route.model_id, deployment_id=target.deployment_id,
                input_tokens=input_tokens, output_tokens=output_tokens,
                latency_ms=total * 1000, status=exchange.status, streamed=exchange.stream,
                occurred_at=exchange.arrived_at))
        await self.limiter.settle(org_id=format_id("org", principal.org_id),
                                  key_id=_key_id(principal),
                                  estimated_tokens=exchange.admitted_tokens,
                                  actual_tokens=input_tokens + output_tokens)


def _key_id(principal: Principal) -> str | None:
    return principal.actor_id if principal.kind == "api_key" else None


def _project_of(target: Target, principal: Principal) -> Any:
    """The project billed: the deployment's, else the calling key's."""
    if target.project_id is not None:
        return uuid.UUID(hex=target.project_id)
    return principal.project_id


class _Relay:
    """One stream from a replica to the client (see the module doc)."""

    def __init__(self, gateway: Gateway, exchange: Exchange,
                 response: UpstreamResponse) -> None:
        self.gateway, self.exchange, self.response = gateway, exchange, response
        self.tap = SseTap(strip_usage=not exchange.wants_usage)
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self.pump: asyncio.Task[None] | None = None
        self.outcome: int | None = None  # set when the relay ends by itself
        self.closed = False

    async def _pump(self) -> None:
        try:
            async for chunk in self.response.aiter_raw():
                await self.queue.put(chunk)
            await self.queue.put(_END)
        except Exception as error:  # UpstreamBrokeError, mostly: the relay ends on it
            await self.queue.put(error)

    async def events(self) -> AsyncIterator[bytes]:
        exchange, timeouts = self.exchange, self.gateway.timeouts
        self.pump = asyncio.get_running_loop().create_task(self._pump())
        sent = exchange.upstream_since or time.perf_counter()
        first_deadline = sent + timeouts.first_byte
        total_deadline = exchange.deadline(timeouts)
        last_heard: float | None = None  # when the upstream last sent bytes
        keepalive_due = time.perf_counter() + timeouts.keepalive
        try:
            while True:
                limit = min(first_deadline if last_heard is None
                            else last_heard + timeouts.chunk, total_deadline)
                item = await self._next(min(limit, keepalive_due))
                if item is None:  # nothing within the wait
                    now = time.perf_counter()
                    if now >= limit:
                        log.warning("gateway_stream_stalled", model=exchange.route.name,
                                    after_bytes=last_heard is not None)
                        self.outcome = 504
                        break
                    yield KEEPALIVE
                    keepalive_due = now + timeouts.keepalive
                    continue
                if item is _END:
                    self.outcome = exchange.status
                    break
                if not isinstance(item, bytes):  # the pump's error: the connection broke
                    log.warning("gateway_upstream_broke", model=exchange.route.name,
                                error_class=type(item).__name__)
                    self.outcome = 502
                    break
                last_heard = time.perf_counter()
                keepalive_due = last_heard + timeouts.keepalive
                out = self.tap.feed(item)
                if out:
                    if exchange.first_token is None and self.tap.content_chunks:
                        exchange.first_token = time.perf_counter()
                    yield out
            rest = self.tap.finish()
            if rest:
                yield rest
        finally:
            with anyio.CancelScope(shield=True):
                await self.close()

    async def _next(self, until: float) -> object | None:
        """The next item from the pump, or None if none comes before `until`."""
        with contextlib.suppress(asyncio.QueueEmpty):
            return self.queue.get_nowait()
        wait = until - time.perf_counter()
        if wait <= 0:
            return None
        try:
            async with asyncio.timeout(wait):
                return await self.queue.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        """End the upstream exchange and account for it: once, from whichever comes first
        (the relay's end, its cancellation when the client left, the response's background
        task if the relay never started)."""
        if self.closed:
            return
        self.closed = True
        exchange = self.exchange
        if self.pump is not None and not self.pump.done():
            self.pump.cancel()
            with contextlib.suppress(BaseException):
                await self.pump
        await self.response.aclose()
        exchange.status = self.outcome if self.outcome is not None else CLIENT_CLOSED_REQUEST
        exchange.content_chunks = self.tap.content_chunks
        exchange.counts = usage_counts(self.tap.usage)
        await self.gateway.finish(exchange)
