"""A month of activity closed into an invoice, every line and the total computed by hand.

Runs on SQLite and Postgres with a whole control plane; the tests project the usage and
invoice read models themselves (tests/support/billing.py), as the worker would. The prices are the
test price book's (tests/support/billing.py); each amount below is quantity * unit_price /
unit rounded half-up to six decimals, worked out in the comment beside it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from application.billing.finalized import FinalizedInvoice
from domain.billing.period import Period
from domain.billing.pricing import InvoiceLine
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError
from domain.shared.ids import format_id
from infra.settings import Settings
from interfaces.cli.audit import audit
from interfaces.control_plane import ControlPlane
from projections.billing.projection import PROJECTION_NAME as INVOICES
from projections.billing.tables import invoices_table
from tests.support.billing import at, billing_settings, project, record, usage

MARCH = Period(2026, 3)
IN, OUT = "inference.input_tokens", "inference.output_tokens"
LLAMA = "llama-3.2-1b-instruct"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControlPlane]:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    plane = ControlPlane(billing_settings(settings, tmp_path))
    try:
        yield plane
    finally:
        plane.close()


def a_month_of_activity(plane: ControlPlane, org: UUID, other: UUID) -> None:
    record(
        plane,
        # deployment.replica_seconds, no model, default 1.44 per 3600 s:
        usage(org, "rep-1", "deployment.replica_seconds", 3000, at(2026, 3, 1, 0, 0)),
        usage(org, "rep-2", "deployment.replica_seconds", 601, at(2026, 3, 9, 12)),
        # fine-tuning on smollm2 at 0.40 per 1M:
        usage(org, "job-1", "fine_tuning.trained_tokens", 1_234_567, at(2026, 3, 3, 8),
              model="smollm2-135m-instruct"),
        # input tokens on llama at 0.06 per 1M, over three days (the last half a second
        # before April):
        usage(org, "req-1", IN, 1_500_000, at(2026, 3, 2, 10), model=LLAMA),
        usage(org, "req-2", IN, 2_345_678, at(2026, 3, 15, 16, 30), model=LLAMA),
        usage(org, "req-3", IN, 10, at(2026, 3, 31, 23, 59, second=59.5), model=LLAMA),
        usage(org, "req-2", OUT, 654_321, at(2026, 3, 15, 16, 30), model=LLAMA),
        # input tokens on a model without its own price: the default 0.20 per 1M:
        usage(org, "req-4", IN, 2_500_000, at(2026, 3, 20), model="my-custom"),
        usage(org, "req-5", IN, 500_000, at(2026, 3, 21), model="my-custom"),
        # reference-byte-lm at 0.01 per 1M: 250 tokens are 0.0000025, half-up 0.000003:
        usage(org, "req-6", IN, 250, at(2026, 3, 22), model="reference-byte-lm"),
        # grader calls at 0.50 per 1000:
        usage(org, "job-2", "rl.grader_calls", 1_001, at(2026, 3, 28),
              model="qwen2.5-0.5b-instruct"),
        # outside March: the second before it, and the first second of April
        usage(org, "req-feb", IN, 999, at(2026, 3, 1) - 1, model=LLAMA),
        usage(org, "req-apr", IN, 777, at(2026, 4, 1), model=LLAMA),
        # another organization
        usage(other, "req-b", IN, 5_000_000, at(2026, 3, 5), model=LLAMA),
    )


EXPECTED = [
    # 3601 * 1.44 / 3600 = 1.4404
    InvoiceLine("deployment.replica_seconds", "", 3601, "1.44", 3600, "1.440400", 2),
    # 1,234,567 * 0.40 / 1M = 0.4938268 -> 0.493827
    InvoiceLine("fine_tuning.trained_tokens", "smollm2-135m-instruct", 1_234_567, "0.4",
                1_000_000, "0.493827", 1),
    # (1,500,000 + 2,345,678 + 10) * 0.06 / 1M = 3,845,688 * 0.06 / 1M = 0.23074128
    InvoiceLine(IN, LLAMA, 3_845_688, "0.06", 1_000_000, "0.230741", 3),
    # 3,000,000 * 0.20 / 1M = 0.6
    InvoiceLine(IN, "my-custom", 3_000_000, "0.2", 1_000_000, "0.600000", 2),
    # 250 * 0.01 / 1M = 0.0000025 -> half-up 0.000003
    InvoiceLine(IN, "reference-byte-lm", 250, "0.01", 1_000_000, "0.000003", 1),
    # 654,321 * 0.24 / 1M = 0.15703704 -> 0.157037
    InvoiceLine(OUT, LLAMA, 654_321, "0.24", 1_000_000, "0.157037", 1),
    # 1001 * 0.50 / 1000 = 0.5005
    InvoiceLine("rl.grader_calls", "qwen2.5-0.5b-instruct", 1_001, "0.5", 1000, "0.500500", 1),
]
# 1.440400 + 0.493827 + 0.230741 + 0.600000 + 0.000003 + 0.157037 + 0.500500
TOTAL = "3.422508"


def test_a_closed_month_matches_the_hand_computed_invoice(plane: ControlPlane) -> None:
    org, other = uuid4(), uuid4()
    a_month_of_activity(plane, org, other)
    with pytest.raises(ValidationFailedError, match="has not ended"):
        plane.billing.prepare_close(Period.of(time.time()), now=time.time())
    draft = plane.billing.draft(org, MARCH)  # before the close: the same lines, live
    assert list(draft.lines) == EXPECTED and draft.total == TOTAL

    closing = plane.billing.prepare_close(MARCH, now=time.time())
    assert {org.hex, other.hex} <= set(closing.org_ids)
    outcome = plane.billing.close_invoice(org, closing)
    invoice = outcome.aggregate
    assert not outcome.replayed
    assert list(invoice.lines) == EXPECTED
    assert invoice.subtotal == invoice.total == TOTAL
    assert (invoice.period, invoice.currency, invoice.price_book_version) == ("2026-03", "usd", 1)
    assert invoice.usage_position == closing.usage_position
    theirs = plane.billing.close_invoice(other, closing).aggregate
    assert theirs.total == "0.300000"  # 5,000,000 * 0.06 / 1M

    # Usage of March arriving after the close is recorded and in the draft view of the
    # period, not on the invoice; closing again finds the same invoice and records nothing.
    record(plane, usage(org, "req-late", IN, 1_000_000, at(2026, 3, 20), model=LLAMA))
    assert plane.billing.draft(org, MARCH).total == "3.482508"  # + 1,000,000 * 0.06 / 1M
    again = plane.billing.close_invoice(org, plane.billing.prepare_close(MARCH, now=time.time()))
    assert again.replayed and again.position is None
    assert again.aggregate.total == TOTAL and again.aggregate.version == 1

    # What reconciliation reads: the Finalized events, straight from the log.
    mine = [found for found in plane.billing.finalized_invoices("2026-03")
            if found.org_id == org.hex]
    assert mine == [FinalizedInvoice(invoice_id=format_id("inv", invoice.id), org_id=org.hex,
                                     period="2026-03", usage_position=closing.usage_position,
                                     lines=tuple(EXPECTED), total=TOTAL)]
    assert plane.billing.finalized_invoices("2026-02") == []

    # Paid is terminal; the projection shows it all, and a rebuild gives the same rows.
    plane.billing.pay(invoice.id, at=at(2026, 4, 2), cause=SYSTEM)
    with pytest.raises(InvalidStateTransitionError) as refused:
        plane.billing.void(invoice.id, reason="x", at=at(2026, 4, 3), cause=SYSTEM)
    assert refused.value.state == "paid" and refused.value.allowed_actions == ()
    plane.billing.void(theirs.id, reason="duplicate", at=at(2026, 4, 3), cause=SYSTEM)
    project(plane, INVOICES)
    live = rows(plane, 1)
    assert [(row["org_id"], row["status"], row["total"]) for row in live] == sorted(
        [(org.hex, "paid", TOTAL), (other.hex, "void", "0.300000")])
    assert [line["amount"] for line in live[[r["org_id"] for r in live].index(org.hex)]
            ["lines"]] == [line.amount for line in EXPECTED]
    plane.read_models.runner(INVOICES, 2).catch_up()
    assert rows(plane, 2) == live

    # An auditor's check: every invoice replays from its log to the row the list shows.
    project(plane, *plane.read_models.models)
    verified = CliRunner().invoke(audit, ["verify"], obj=plane.settings)
    assert verified.exit_code == 0, verified.output
    assert "Invoice" not in verified.output  # compared with its row, not "replayed only"


def rows(plane: ControlPlane, generation: int) -> list[dict[str, Any]]:
    table = invoices_table(generation, MetaData())
    with plane.read_engine.connect() as conn:
        found = conn.execute(select(table).order_by(table.c.org_id)).mappings()
        return [dict(row) for row in found]
