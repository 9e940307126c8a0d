"""`bitstride`: run the control plane, the auth service and the worker; manage projections."""

from __future__ import annotations

import click

from infra.heap import freeze_startup_heap
from infra.logging import configure_logging
from infra.settings import Settings, SettingsError, load_settings
from interfaces.cli.audit import audit
from interfaces.cli.billing import billing
from interfaces.cli.events import events
from interfaces.cli.jobs import jobs
from interfaces.cli.projections import projections
from interfaces.cli.serving import (
    announce,
    build_plane,
    favour_the_loop,
    run_http,
    wait_for_signal,
)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@click.group(help=__doc__)
@click.pass_context
def cli(ctx: click.Context) -> None:
    try:
        ctx.obj = load_settings()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    configure_logging(ctx.obj.log_format, ctx.obj.log_level)


host_option = click.option("--host", envvar="BITSTRIDE_HOST", default="127.0.0.1",
                           show_default=True, help="Interface to listen on.")
port_option = click.option("--port", envvar="BITSTRIDE_PORT", default=8000, type=int,
                           show_default=True, help="Port to listen on.")


@cli.command(help="Everything in one process on embedded defaults (what `make run` starts).")
@host_option
@port_option
@click.pass_context
def dev(ctx: click.Context, host: str, port: int) -> None:
    from interfaces.http.app import as_asgi, create_control_plane_app

    settings = _settings(ctx).with_overrides(host=host, port=port)
    plane = build_plane(settings)
    plane.start_listening()  # on Postgres, writes by other processes (CLI, a worker) wake it
    plane.start_workers()
    announce(settings, host, port, "dev (control plane + auth service + worker)")
    app = create_control_plane_app(plane, "full", owns_plane=True)
    run_http(as_asgi(app, plane.metrics), host, port, settings, plane.begin_draining)


@cli.command(help="The control plane API (run `bitstride worker` beside it).")
@click.option("--mode", type=click.Choice(["full", "gateway"]), envvar="BITSTRIDE_MODE",
              default="full", show_default=True,
              help="full: every route; gateway: health, readiness, metrics, inference.")
@host_option
@port_option
@click.pass_context
def serve(ctx: click.Context, mode: str, host: str, port: int) -> None:
    from interfaces.http.app import as_asgi, create_control_plane_app

    settings = _settings(ctx).with_overrides(host=host, port=port, mode=mode)
    plane = build_plane(settings, usage_writer_process=True)
    plane.start_listening()
    if mode == "gateway":
        favour_the_loop()
    announce(settings, host, port, f"control plane ({mode} mode)")
    app = create_control_plane_app(plane, mode, owns_plane=True)  # type: ignore[arg-type]
    run_http(as_asgi(app, plane.metrics), host, port, settings, plane.begin_draining)


@cli.command(help="Projections and process managers, until SIGTERM.")
@click.option("--only", envvar="WORKER_ONLY", metavar="NAMES",
              help="Run only these projections and process managers (comma-separated).")
@click.option("--except", "excluded", envvar="WORKER_EXCEPT", metavar="NAMES",
              help="Run all but these (comma-separated).")
@click.pass_context
def worker(ctx: click.Context, only: str | None, excluded: str | None) -> None:
    from interfaces.worker import worker_selection

    plane = build_plane(_settings(ctx), embedded_auth=False)
    try:
        selected = worker_selection(plane, only, excluded)
    except ValueError as error:
        plane.close()
        raise click.ClickException(str(error)) from None
    plane.start_listening()
    freeze_startup_heap()
    plane.start_workers(selected)
    click.echo("Bitstride worker running; Ctrl-C or SIGTERM stops it.")
    try:
        wait_for_signal()
    finally:
        plane.close()


@cli.group(help="The auth service.")
def auth() -> None:
    pass


@auth.command("serve", help="The auth service: users, sessions, keys (its own event store).")
@click.option("--host", envvar="AUTH_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="AUTH_PORT", default=8001, type=int, show_default=True)
@click.pass_context
def auth_serve(ctx: click.Context, host: str, port: int) -> None:
    from interfaces.control_plane import build_revocations
    from interfaces.http.auth_service.app import create_auth_app
    from interfaces.http.request_id import request_id_middleware

    settings = _settings(ctx)
    app = create_auth_app(settings, revocations=build_revocations(settings))
    announce(settings, host, port, "auth service")
    run_http(request_id_middleware(app), host, port, settings)  # ids on 404s too


cli.add_command(projections)
cli.add_command(audit)
cli.add_command(jobs)
cli.add_command(events)
cli.add_command(billing)
