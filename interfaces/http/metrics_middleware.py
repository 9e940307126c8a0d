"""Counts and times every request by method, route template and status."""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import Metrics


def metrics_middleware(metrics: Metrics) -> type:
    """A Litestar middleware factory bound to this process's metrics."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_recording_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_recording_status)
            finally:
                route = scope.get("path_template") or "unmatched"
                method = scope["method"]
                metrics.requests.labels(method, route, str(status)).inc()
                metrics.latency.labels(method, route).observe(time.perf_counter() - started)

        return middleware

    return factory  # type: ignore[return-value]
