"""`bitstride billing close|pay|void|reconcile`: the operator's side of invoices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import click

from domain.billing.period import Period
from domain.shared.cause import Cause
from domain.shared.errors import DomainError
from domain.shared.ids import format_id, parse_id
from infra.settings import Settings
from interfaces.cli.billing_reconcile import reconcile
from interfaces.cli.serving import build_plane
from projections.usage.projection import PROJECTION_NAME as USAGE

OPERATOR = Cause(actor_id="cli", actor_kind="operator")
PROGRESS_FROM = 20  # organizations; fewer are listed one per line


@click.group(help="Invoices: close a period, mark an invoice paid or void, reconcile usage.")
def billing() -> None:
    pass


billing.add_command(reconcile)


@contextmanager
def plane_of(settings: Settings) -> Iterator[Any]:
    """The control plane, with domain errors and timeouts as one clear line."""
    plane = build_plane(settings, embedded_auth=False)
    try:
        yield plane
    except (DomainError, TimeoutError) as error:
        raise click.ClickException(getattr(error, "message", str(error))) from None
    finally:
        plane.close()


def catch_up_usage(plane: Any) -> None:
    """With no worker running the usage projection, bring it to the log's head here; with a
    worker, closing waits for it instead."""
    runner = plane.read_models.runner(USAGE, plane.generations.active(USAGE, fresh=True))
    if runner.lock.try_acquire():
        try:
            runner.catch_up()
        finally:
            runner.lock.release()


@billing.command(help="Close a period that has ended: one invoice per organization with "
                      "usage in it. Closing again changes nothing.")
@click.option("--period", "period_name", required=True, metavar="YYYY-MM",
              help="The month to close (UTC).")
@click.pass_obj
def close(settings: Settings, period_name: str) -> None:
    try:
        period = Period.parse(period_name)
    except DomainError as error:
        raise click.BadParameter(error.message, param_hint="--period") from None
    with plane_of(settings) as plane:
        period.require_ended(time.time())
        catch_up_usage(plane)
        closing = plane.billing.prepare_close(period, now=time.time())
        outcomes = []
        if len(closing.org_ids) >= PROGRESS_FROM:
            with click.progressbar(closing.org_ids, label=f"Closing {period}",
                                   show_pos=True) as orgs:
                outcomes = [close_one(plane, org, closing) for org in orgs]
        else:
            for org in closing.org_ids:
                outcomes.append(close_one(plane, org, closing))
                click.echo(line_of(outcomes[-1]))
        made = sum(not outcome.replayed for outcome in outcomes)
        click.echo(f"{period}: {made} invoice(s) closed, {len(outcomes) - made} already "
                   f"closed; usage summed up to position {closing.usage_position}.")


def close_one(plane: Any, org_hex: str, closing: Any) -> Any:
    return plane.billing.close_invoice(UUID(hex=org_hex), closing, cause=OPERATOR)


def line_of(outcome: Any) -> str:
    invoice = outcome.aggregate
    state = "already closed" if outcome.replayed else "closed"
    return (f"{format_id('inv', invoice.id)}  {format_id('org', invoice.org_id)}  "
            f"{invoice.period}  {invoice.total} {invoice.currency}  {state}")


@billing.command(help="Mark a finalized invoice paid.")
@click.argument("invoice_id")
@click.pass_obj
def pay(settings: Settings, invoice_id: str) -> None:
    with plane_of(settings) as plane:
        outcome = plane.billing.pay(parse_id("inv", invoice_id), at=time.time(), cause=OPERATOR)
        click.echo(f"{invoice_id} is {outcome.aggregate.status}.")


@billing.command(help="Void a finalized invoice (it stays on record, charging nothing).")
@click.argument("invoice_id")
@click.option("--reason", default=None, help="Why, for the record and the customer.")
@click.pass_obj
def void(settings: Settings, invoice_id: str, reason: str | None) -> None:
    with plane_of(settings) as plane:
        outcome = plane.billing.void(parse_id("inv", invoice_id), reason=reason,
                                     at=time.time(), cause=OPERATOR)
        click.echo(f"{invoice_id} is {outcome.aggregate.status}.")
