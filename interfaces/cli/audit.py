"""`bitstride audit verify`: prove the event store was not edited behind Bitstride's back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from infra.chain.verify import Walk, walk
from infra.settings import Settings
from interfaces.cli.serving import build_plane

if TYPE_CHECKING:
    from interfaces.cli.audit_checks import Log


@click.group(help="Check the event store's tamper evidence.")
def audit() -> None:
    pass


@audit.command(help="Walk every log's hash chain, replay every aggregate and compare it with "
                    "its read-model row; exit 1 naming the first problem found.")
@click.pass_obj
def verify(settings: Settings) -> None:
    from interfaces.cli.audit_checks import NotChainedError, RowChecker, logs_of

    plane = build_plane(settings, embedded_auth=False)
    try:
        try:
            logs = logs_of(plane)
        except NotChainedError as error:
            raise click.ClickException(str(error)) from None
        walks = [_walk(log) for log in logs]
        checker = RowChecker(plane)
        aggregates = sum(len(w.last_event_of) for w in walks)
        with click.progressbar(length=aggregates, label="Replaying aggregates",
                               show_pos=True) as bar:
            for log, log_walk in zip(logs, walks, strict=True):
                for originator_id in log_walk.last_event_of:
                    problem = checker.check(log, originator_id, log_walk)
                    if problem:
                        raise click.ClickException(problem)
                    bar.update(1)
    finally:
        plane.close()
    tally = checker.tally
    click.echo(f"OK: {len(logs)} logs, {sum(w.events for w in walks)} events chained and "
               f"intact, {aggregates} aggregates replayed; {tally.compared} match their "
               f"read-model rows, {tally.pending} not yet projected.")
    for kind, count in sorted(tally.replay_only.items()):
        click.echo(f"  replayed only: {count} {kind}")


def _walk(log: Log) -> Walk:
    recorder = log.recorder
    head = max(recorder.max_link_id() or 0, recorder.max_notification_id() or 0)
    with click.progressbar(length=head, label=f"Checking the {log.label}",
                           show_pos=True) as bar:
        result = walk(recorder, log.label, progress=bar.update)
    if result.problem:
        raise click.ClickException(result.problem)
    return result
