"""Builds the gateway's accounting: the usage meter and the request limiter, from settings."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from application.gateway.ports import RequestLimiter, UsageMeter
from application.usage.service import UsageService
from infra.gateway.metering import BufferedUsageMeter, MeteringMetrics
from infra.gateway.ratelimit import (
    InProcessRequestLimiter,
    RateLimitMetrics,
    RateLimits,
    RedisRequestLimiter,
)
from infra.gateway.usage_writer import WriterProcessUsageMeter
from infra.settings import Settings


def build_gateway_accounting(settings: Settings, usage: UsageService, *,
                             registry: CollectorRegistry | None = None,
                             writer_process: bool = False,
                             ) -> tuple[UsageMeter, RequestLimiter]:
    """The meter (its flusher started: call `close()` at shutdown) and the limiter (Redis
    when `REDIS_URL` is set, otherwise this process's memory).

    `registry`: the process's Prometheus registry (`plane.metrics.registry`) to expose the
    meter's and the limiter's metrics on; without it they count in a private registry.
    `writer_process`: write usage from a process of its own (usage_writer.py) rather than a
    thread of this one; only on Postgres (SQLite takes one writing process at a time)."""
    meter: UsageMeter
    if writer_process and settings.database_url:
        meter = WriterProcessUsageMeter(settings, registry=registry)
    else:
        meter = BufferedUsageMeter(
            usage, flush_seconds=settings.gateway_usage_flush_seconds,
            batch_size=settings.gateway_usage_batch,
            buffer_max=settings.gateway_usage_buffer_max, metrics=MeteringMetrics(registry))
    limits = RateLimits(key_rpm=settings.gateway_key_rpm, key_tpm=settings.gateway_key_tpm,
                        org_rpm=settings.gateway_org_rpm, org_tpm=settings.gateway_org_tpm)
    limiter: RequestLimiter
    if settings.redis_url:
        limiter = RedisRequestLimiter(settings.redis_url, limits,
                                      on_redis_error=settings.gateway_rate_limit_on_redis_error,
                                      metrics=RateLimitMetrics(registry))
    else:
        limiter = InProcessRequestLimiter(limits, metrics=RateLimitMetrics(registry))
    return meter, limiter
