"""Prometheus metrics: one registry per process, exposed at /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Inference latencies: 1 ms resolution at the low end (the gateway's own overhead), up to the
# 600 s a long generation may take (GATEWAY_TOTAL_TIMEOUT_SECONDS).
GATEWAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                   20, 40, 80, 160, 320, 600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bitstride_http_requests_total", "HTTP requests by route template and status.",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "bitstride_http_request_duration_seconds", "HTTP latency by route template.",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.append_latency = Histogram(
            "bitstride_event_append_duration_seconds", "Time to decide and append a command.",
            ["application"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
        self.projection_failures = Counter(
            "bitstride_projection_failures_total", "Projection runners stopped by an error.",
            ["projection"], registry=self.registry)
        # The inference gateway. `model` is the model's name (what the replicas serve), never
        # a key, user or request id: bounded by the deployed models.
        self.gateway_requests = Counter(
            "bitstride_gateway_requests_total", "Inference requests routed, by model and status.",
            ["model", "status"], registry=self.registry)
        self.gateway_latency = Histogram(
            "bitstride_gateway_request_seconds",
            "Inference requests, from arrival to the last byte sent.", ["model"],
            registry=self.registry, buckets=GATEWAY_BUCKETS)
        self.gateway_ttft = Histogram(
            "bitstride_gateway_time_to_first_token_seconds",
            "Streamed requests: arrival to the first content chunk sent.", ["model"],
            registry=self.registry, buckets=GATEWAY_BUCKETS)
        self.gateway_upstream = Histogram(
            "bitstride_gateway_upstream_seconds",
            "Time spent waiting on replicas (request sent to the last byte received).",
            registry=self.registry, buckets=GATEWAY_BUCKETS)
        self.gateway_overhead = Histogram(
            "bitstride_gateway_overhead_seconds",
            "The gateway's own time: request seconds minus upstream seconds.",
            registry=self.registry, buckets=GATEWAY_BUCKETS)
        self.gateway_tokens = Counter(
            "bitstride_gateway_tokens_total", "Tokens metered, by model and direction "
            "(input, output).", ["model", "direction"], registry=self.registry)

    def watch_lag(self, lags: Callable[[], Iterable[tuple[str, int]]]) -> None:
        """Report each projection's lag (events behind the log head) when scraped."""
        self.registry.register(_LagCollector(lags))


class _LagCollector(Collector):
    def __init__(self, lags: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self.lags = lags

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("bitstride_projection_lag_events",
                                  "Events between the log head and the projection's position.",
                                  labels=["projection"])
        for name, lag in self.lags():
            gauge.add_metric([name], lag)
        yield gauge
