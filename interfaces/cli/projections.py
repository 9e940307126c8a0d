"""`bitstride projections status|rebuild`."""

from __future__ import annotations

import click

from infra.settings import Settings
from interfaces.cli.serving import build_plane


@click.group(help="Inspect and rebuild read models.")
def projections() -> None:
    pass


@projections.command(help="Each projection's position, the log head and the lag.")
@click.pass_obj
def status(settings: Settings) -> None:
    from interfaces.worker import projection_status

    plane = build_plane(settings, embedded_auth=False)
    try:
        rows = projection_status(plane)
    finally:
        plane.close()
    click.echo(f"{'projection':<28} {'generation':>10} {'position':>10} {'head':>10} {'lag':>8}")
    for row in rows:
        click.echo(f"{row.name:<28} {row.generation:>10} {row.position:>10} {row.head:>10} "
                   f"{row.lag:>8}")


@projections.command(help="Rebuild NAME from the log beside the live tables, then switch over.")
@click.argument("name")
@click.pass_obj
def rebuild(settings: Settings, name: str) -> None:
    from interfaces.worker import rebuild as rebuild_projection

    plane = build_plane(settings, embedded_auth=False)
    try:
        if name not in plane.read_models.models:
            raise click.BadParameter(f"unknown projection {name!r}; choose from "
                                     f"{', '.join(plane.read_models.models)}",
                                     param_hint="NAME")
        head = plane.read_models.models[name].app.recorder.max_notification_id() or 0
        with click.progressbar(length=head, label=f"Rebuilding {name}", show_pos=True) as bar:
            generation = rebuild_projection(plane, name, progress=bar.update)
        click.echo(f"{name}: generation {generation} is live; readers switched without a gap.")
    except TimeoutError as error:
        raise click.ClickException(str(error)) from None
    finally:
        plane.close()
