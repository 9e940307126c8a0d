"""Starting HTTP servers and worker loops, and stopping them cleanly on a signal."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
import litestar.concurrency
import uvicorn

from infra.heap import freeze_startup_heap
from infra.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 10


class DrainingServer(uvicorn.Server):
    """uvicorn that tells the app first when it begins to shut down.

    uvicorn waits for open connections before the app's own shutdown hooks run, so a
    long-lived response (a job's event stream) would hold every stop for the whole grace
    period; told first, streams end at once and clients resume with `Last-Event-ID`."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: Any = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets=sockets)


def run_http(asgi_app: Any, host: str, port: int, settings: Settings,
             before_shutdown: Callable[[], None] = lambda: None) -> None:
    """uvicorn with uvloop and httptools where installed; SIGTERM drains in-flight requests."""
    config = uvicorn.Config(asgi_app, host=host, port=port,
                            log_level=settings.log_level.lower(), access_log=False,
                            lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    server = DrainingServer(config, before_shutdown)
    # uvicorn drains, then re-raises the signal it caught with the handler it found: this one
    # makes a clean stop exit 0 (as `bitstride worker` does), not "killed by SIGTERM" (143).
    signal.signal(signal.SIGTERM, _stopped_cleanly)
    run_handlers_on(settings.http_threads)
    freeze_startup_heap()
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's own exit code when a server fails to start


def run_handlers_on(threads: int) -> None:
    """Synchronous handlers run on a pool of `threads`, not on the event loop's default pool
    (the CPU count plus four: six on two cores). A command holds its thread mostly waiting
    (for a group commit, then for read-your-writes), so with six threads 32 clients of
    `POST /v1/projects` queued for one: 224 against 289 req/s at 32 threads (`make bench`).
    Set before the loop starts; Litestar refuses it afterwards."""
    litestar.concurrency.set_asyncio_executor(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http-handler"))


GATEWAY_SWITCH_SECONDS = 0.0005


def favour_the_loop() -> None:
    """Hand the GIL back to the request loop sooner than Python's default 5 ms.

    A gateway's loop shares the GIL with the usage meter's flusher and the routing table's
    reloader: each time the loop waits on a socket, a busy thread could keep the GIL for a
    whole switch interval, several times per request. At 0.5 ms the gateway's added p99 went
    from about +8 to under +5 ms. Not for `--mode full`: its handlers run in a thread pool,
    where shorter turns cost reads about a tenth of their throughput."""
    sys.setswitchinterval(GATEWAY_SWITCH_SECONDS)


def _stopped_cleanly(_signum: int, _frame: Any) -> None:
    sys.exit(0)


def wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def announce(settings: Settings, host: str, port: int, what: str) -> None:
    base = f"http://{host}:{port}"
    click.echo(f"Bitstride {what} on {base}")
    click.echo(f"  API:     {base}/v1")
    click.echo(f"  OpenAPI: {base}/schema  (Swagger UI: {base}/schema/swagger)")
    click.echo(f"  Data:    {settings.data_dir.resolve()}"
               if not settings.database_url else "  Data:    Postgres (DATABASE_URL)")


def build_plane(settings: Settings, *, embedded_auth: bool | None = None,
                usage_writer_process: bool = False) -> Any:
    """The composition root, or one clear line (not a traceback) when a setting is wrong."""
    from infra.settings import SettingsError
    from interfaces.control_plane import ControlPlane

    try:
        return ControlPlane(settings, embedded_auth=embedded_auth,
                            usage_writer_process=usage_writer_process)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
