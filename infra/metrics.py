"""Prometheus metrics: one registry per process, exposed at /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


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
