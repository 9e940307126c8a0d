"""`bitstride events history ID`: one resource's history, read straight from the event log."""

from __future__ import annotations

import json
from typing import Any

import click

from infra.settings import Settings
from interfaces.cli.serving import build_plane


@click.group(help="Read the event log.")
def events() -> None:
    pass


def application_for(plane: Any, prefix: str) -> Any:
    """The application whose log holds resources with this id prefix, or None."""
    logs = {"org": plane.tenancy, "proj": plane.tenancy, "ds": plane.datasets,
            "model": plane.models, "ftjob": plane.training, "rljob": plane.training,
            "dep": plane.serving, "inv": plane.billing}
    if prefix == "key":
        return plane.identity_log()
    return logs.get(prefix)


@events.command(help="Every event of the resource ID (org_, proj_, ds_, model_, ftjob_, "
                     "rljob_, dep_, inv_, key_ …), oldest first, with its actor and request.")
@click.argument("resource_id")
@click.pass_obj
def history(settings: Settings, resource_id: str) -> None:
    from application.audit.history import history as history_of
    from domain.shared.errors import NotFoundError
    from domain.shared.ids import parse_id

    prefix = resource_id.partition("_")[0]
    plane = build_plane(settings, embedded_auth=False)
    try:
        app = application_for(plane, prefix)
        try:
            aggregate_id = parse_id(prefix, resource_id) if app is not None else None
        except NotFoundError:
            aggregate_id = None
        entries = history_of(app, aggregate_id, resource_id) if aggregate_id else []
    finally:
        plane.close()
    if not entries:
        raise click.ClickException(f"No history for {resource_id!r}: not a resource id this "
                                   f"log holds.")
    for entry in entries:
        click.echo(f"version {entry.version}  {entry.at.isoformat()}  {entry.type}")
        click.echo(f"  actor: {entry.actor_id} ({entry.actor_kind})  "
                   f"request: {entry.request_id or '-'}"
                   + (f"  idempotency key: {entry.idempotency_key}"
                      if entry.idempotency_key else ""))
        for line in json.dumps(entry.payload, indent=2, sort_keys=True).splitlines():
            click.echo(f"  {line}")
        click.echo()
