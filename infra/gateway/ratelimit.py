"""The gateway's rate limits: requests and tokens per minute, per API key and per organization.

Four limits (settings `GATEWAY_KEY_RPM`, `GATEWAY_KEY_TPM`, `GATEWAY_ORG_RPM`,
`GATEWAY_ORG_TPM`; 0 = unlimited, the default). A request made with a user token (no key) is
held to the organization's limits only. Only configured limits have counters: with none
configured, `admit` answers at once without touching Redis.

**Windows.** Fixed 60-second windows, one counter per limit, each window starting at that
counter's first charge and ending with the counter's TTL (the semantics of infra/ratelimit.py's
auth throttling, whose in-process store this module reuses). Why fixed windows and not a
sliding log: a counter costs one INCRBY and one key, whatever the traffic, and token amounts
are just increments (a sliding log keeps one entry per request, and tokens would need weighted
entries); `Retry-After` is exact (the counter's TTL). The price: a client that spends its whole
limit at the end of one window and again at the start of the next gets up to 2x the limit
within those few seconds; never more than the limit per window.

**Admission** (`admit`) checks every applicable counter and, if none refuses, charges them
all: 1 to the request counters and the caller's token estimate (prompt + max_tokens) to the
token counters — atomically, so concurrent requests on any number of processes can never
together pass a limit (a refused request charges nothing). A counter refuses when its window
already counts something and `count + amount > limit`; an empty window takes any single
request, so a request whose estimate alone exceeds the TPM limit runs alone in its window
rather than being refused forever. **Settling** (`settle`) adds `actual - estimated` (maybe
negative) to the token counters, so TPM tracks real usage; a count never goes below 0, and a
window that ended in between only takes a positive correction (it starts a new window).

**Backends.**
- `RedisRequestLimiter` (`REDIS_URL` set): shared by every gateway process. One Lua script per
  `admit` (check all, then charge all) and one per `settle` that changes anything. All of one
  request's keys carry the organization as a hash tag, so they live in one Redis Cluster slot.
  Each call has a 100 ms socket timeout and at most one immediate retry. When Redis fails,
  `GATEWAY_RATE_LIMIT_ON_REDIS_ERROR` decides: `allow` (default) serves the request unlimited,
  `deny` refuses it with `retry_after_seconds=1` (limit named as the first configured one).
  Either way the failure is logged once per outage (error class only) and counted
  (`bitstride_gateway_rate_limit_backend_errors_total`), Redis is not tried again for a second
  (so an outage costs no timeouts on the request path), and nothing is raised to the caller.
- `InProcessRequestLimiter` (no `REDIS_URL`, the embedded mode): the same rules in this
  process's memory. Correct for ONE gateway process only: N processes would each allow the
  whole limit.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry, Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from application.gateway.ports import (
    ALLOWED,
    KEY_REQUESTS,
    KEY_TOKENS,
    ORG_REQUESTS,
    ORG_TOKENS,
    RateDecision,
)
from infra.ratelimit import Charge, InMemoryRateLimiter

log = structlog.get_logger("bitstride.gateway.ratelimit")

WINDOW_SECONDS = 60
REDIS_TIMEOUT_SECONDS = 0.1
REDIS_COOLDOWN_SECONDS = 1.0  # after a failure, Redis is not tried again for this long
OnRedisError = Literal["allow", "deny"]

# KEYS: the counters. ARGV[1]: window seconds; then for counter i, ARGV[2i] the amount and
# ARGV[2i+1] the limit (0: count only). Returns {0, 0} when charged, {i, pttl} when counter i
# refused (nothing charged).
_ADMIT = """
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local amount, limit = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local count = tonumber(redis.call('GET', key) or '0')
  if limit > 0 and count > 0 and count + amount > limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('EXPIRE', key, window)
      ttl = window * 1000
    end
    return {i, ttl}
  end
end
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i])
  if amount > 0 then
    redis.call('INCRBY', key, amount)
    if redis.call('PTTL', key) < 0 then
      redis.call('EXPIRE', key, window)
    end
  end
end
return {0, 0}
"""

# KEYS: token counters. ARGV[1]: window seconds, ARGV[2]: the correction (may be negative).
_SETTLE = """
local window, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    if redis.call('INCRBY', key, delta) < 0 then
      redis.call('SET', key, 0, 'KEEPTTL')
    end
  elseif delta > 0 then
    redis.call('SET', key, delta, 'EX', window)
  end
end
return 0
"""


@dataclass(frozen=True)
class RateLimits:
    """Per minute; 0 is unlimited."""

    key_rpm: int = 0
    key_tpm: int = 0
    org_rpm: int = 0
    org_tpm: int = 0

    @property
    def any(self) -> bool:
        return any((self.key_rpm, self.key_tpm, self.org_rpm, self.org_tpm))


@dataclass(frozen=True)
class _Counter:
    name: str  # the limit's name, as RateDecision.limit reports it
    key: str
    limit: int
    tokens: bool


class RateLimitMetrics:
    """Prometheus instruments of a limiter (a private registry when none is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.refused = Counter(
            "bitstride_gateway_rate_limited_total", "Requests refused by a gateway rate limit.",
            ["limit"], registry=registry)
        self.backend_errors = Counter(
            "bitstride_gateway_rate_limit_backend_errors_total",
            "Rate-limit calls that failed or skipped Redis (answered by the on-error policy).",
            ["operation", "policy"], registry=registry)


class _RequestLimiter:
    """The limits and their counters; subclasses store the counters."""

    def __init__(self, limits: RateLimits, *, metrics: RateLimitMetrics | None = None,
                 prefix: str = "bitstride:gw:rl") -> None:
        self.limits = limits
        self.metrics = metrics or RateLimitMetrics()
        self._prefix = prefix

    def _counters(self, org_id: str, key_id: str | None) -> list[_Counter]:
        base = f"{self._prefix}:{{{org_id}}}"  # hash tag: one request's keys share a slot
        candidates = [(KEY_REQUESTS, f"{base}:key:{key_id}:req", self.limits.key_rpm, False),
                      (KEY_TOKENS, f"{base}:key:{key_id}:tok", self.limits.key_tpm, True),
                      ] if key_id else []
        candidates += [(ORG_REQUESTS, f"{base}:req", self.limits.org_rpm, False),
                       (ORG_TOKENS, f"{base}:tok", self.limits.org_tpm, True)]
        return [_Counter(name, key, limit, tokens)
                for name, key, limit, tokens in candidates if limit > 0]

    async def admit(self, *, org_id: str, key_id: str | None,
                    estimated_tokens: int) -> RateDecision:
        counters = self._counters(org_id, key_id)
        if not counters:
            return ALLOWED
        charges = [Charge(c.key, max(0, estimated_tokens) if c.tokens else 1, c.limit)
                   for c in counters]
        decision = await self._admit(counters, charges)
        if not decision.allowed:
            self.metrics.refused.labels(decision.limit or "unknown").inc()
        return decision

    async def settle(self, *, org_id: str, key_id: str | None, estimated_tokens: int,
                     actual_tokens: int) -> None:
        delta = max(0, actual_tokens) - max(0, estimated_tokens)
        keys = [c.key for c in self._counters(org_id, key_id) if c.tokens]
        if delta and keys:
            await self._settle(keys, delta)

    async def _admit(self, counters: Sequence[_Counter],
                     charges: Sequence[Charge]) -> RateDecision:
        raise NotImplementedError

    async def _settle(self, keys: Sequence[str], delta: int) -> None:
        raise NotImplementedError


def _refused(counter: _Counter, resets_in_seconds: float) -> RateDecision:
    return RateDecision(allowed=False, retry_after_seconds=max(1, math.ceil(resets_in_seconds)),
                        limit=counter.name)


class InProcessRequestLimiter(_RequestLimiter):
    """The limits in this process's memory (embedded mode): correct for one process only."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic,
                 metrics: RateLimitMetrics | None = None) -> None:
        super().__init__(limits, metrics=metrics)
        self._store = InMemoryRateLimiter(clock=clock)

    async def _admit(self, counters: Sequence[_Counter],
                     charges: Sequence[Charge]) -> RateDecision:
        refusal = self._store.consume(charges, WINDOW_SECONDS)
        return ALLOWED if refusal is None else _refused(counters[refusal.index],
                                                        refusal.resets_in)

    async def _settle(self, keys: Sequence[str], delta: int) -> None:
        self._store.adjust(keys, delta, WINDOW_SECONDS)


class RedisRequestLimiter(_RequestLimiter):
    """The limits in Redis, shared by every gateway process (see the module docstring)."""

    def __init__(self, redis_url: str, limits: RateLimits, *,
                 on_redis_error: OnRedisError = "allow",
                 metrics: RateLimitMetrics | None = None,
                 timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 prefix: str = "bitstride:gw:rl") -> None:
        super().__init__(limits, metrics=metrics, prefix=prefix)
        self.on_redis_error: OnRedisError = on_redis_error
        self._url, self._timeout, self._clock = redis_url, timeout_seconds, clock
        self._skip_until = 0.0
        self._down = False
        # An asyncio Redis connection belongs to the loop that opened it: one client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Client] = \
            weakref.WeakKeyDictionary()

    async def _admit(self, counters: Sequence[_Counter],
                     charges: Sequence[Charge]) -> RateDecision:
        if self._clock() < self._skip_until:
            return self._fallback("admit", counters)
        args: list[int] = [WINDOW_SECONDS]
        for charge in charges:
            args += [charge.amount, charge.limit]
        try:
            index, pttl = await self._client().admit(keys=[c.key for c in charges], args=args)
        except Exception as error:  # never raise to the request path
            self._failed("admit", error)
            return self._fallback("admit", counters)
        self._recovered()
        if int(index) == 0:
            return ALLOWED
        return _refused(counters[int(index) - 1], int(pttl) / 1000)

    async def _settle(self, keys: Sequence[str], delta: int) -> None:
        if self._clock() < self._skip_until:
            self.metrics.backend_errors.labels("settle", self.on_redis_error).inc()
            return
        try:
            await self._client().settle(keys=list(keys), args=[WINDOW_SECONDS, delta])
        except Exception as error:  # a lost correction is only logged
            self._failed("settle", error)
            self.metrics.backend_errors.labels("settle", self.on_redis_error).inc()
            return
        self._recovered()

    def _fallback(self, operation: str, counters: Sequence[_Counter]) -> RateDecision:
        self.metrics.backend_errors.labels(operation, self.on_redis_error).inc()
        if self.on_redis_error == "allow":
            return ALLOWED
        return RateDecision(allowed=False, retry_after_seconds=1, limit=counters[0].name)

    def _failed(self, operation: str, error: Exception) -> None:
        self._skip_until = self._clock() + REDIS_COOLDOWN_SECONDS
        if not self._down:  # one line per outage, not one per request
            self._down = True
            log.error("rate_limit_redis_unavailable", operation=operation,
                      error_class=type(error).__name__, policy=self.on_redis_error)

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.info("rate_limit_redis_recovered")

    def _client(self) -> _Client:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _Client(self._url, self._timeout)
        return client

    async def aclose(self) -> None:
        """Close this loop's connections (optional: tests and orderly shutdowns)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.redis.aclose()


class _Client:
    def __init__(self, url: str, timeout: float) -> None:
        self.redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1))  # one immediate retry: a pooled connection gone stale
        self.admit: Any = self.redis.register_script(_ADMIT)
        self.settle: Any = self.redis.register_script(_SETTLE)
