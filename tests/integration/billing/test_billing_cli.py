"""`bitstride billing close|pay|void` on a SQLite data directory, through click."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner, Result

from domain.billing.invoice import invoice_id
from domain.billing.period import Period
from domain.shared.cause import SYSTEM
from domain.shared.ids import format_id
from infra.settings import Settings
from interfaces.cli import billing as billing_cli
from interfaces.cli.main import cli
from interfaces.control_plane import ControlPlane
from tests.support.billing import at, price_book_file, usage

MARCH = Period(2026, 3)


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["billing", *args], env=env)


def test_close_pay_and_void(sqlite_settings: Settings, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"BITSTRIDE_DATA_DIR": str(sqlite_settings.data_dir), "TRAINING_EXECUTOR": "none",
           "DEPLOYMENT_CONTROLLER": "off", "PRICE_BOOK_FILE": str(price_book_file(tmp_path)),
           "BILLING_CLOSE_GRACE_SECONDS": "3600"}
    plane = ControlPlane(sqlite_settings)
    orgs = sorted((uuid4(), uuid4()), key=lambda org: org.hex)
    # Not projected: the command catches the usage projection up itself (no worker runs).
    plane.usage.record([usage(orgs[0], "a", "inference.input_tokens", 1_000_000,
                              at(2026, 3, 3), model="llama-3.2-1b-instruct"),
                        usage(orgs[1], "b", "rl.grader_calls", 2_000, at(2026, 3, 4))],
                       cause=SYSTEM)
    plane.close()
    ids = [format_id("inv", invoice_id(org, MARCH)) for org in orgs]

    closed = run(env, "close", "--period", "2026-03")
    assert closed.exit_code == 0, closed.output
    *invoices, summary = closed.output.splitlines()
    assert invoices == [  # 1M * 0.06 / 1M, and 2000 * 0.50 / 1000
        f"{ids[0]}  {format_id('org', orgs[0])}  2026-03  0.060000 usd  closed",
        f"{ids[1]}  {format_id('org', orgs[1])}  2026-03  1.000000 usd  closed"]
    assert summary.startswith("2026-03: 2 invoice(s) closed, 0 already closed; usage summed "
                              "up to position ")

    monkeypatch.setattr(billing_cli, "PROGRESS_FROM", 2)  # a progress bar from 2 orgs on
    again = run(env, "close", "--period", "2026-03")
    assert again.exit_code == 0 and "Closing 2026-03" in again.output
    assert "0 invoice(s) closed, 2 already closed" in again.output

    still_open = run(env, "close", "--period", Period.of(time.time()).name)
    assert still_open.exit_code == 1 and "has not ended yet" in still_open.output
    assert run(env, "close", "--period", "2026-3").exit_code == 2

    assert run(env, "pay", ids[0]).output == f"{ids[0]} is paid.\n"
    refused = run(env, "void", ids[0], "--reason", "oops")
    assert refused.exit_code == 1 and "Cannot void while paid" in refused.output
    assert run(env, "void", ids[1], "--reason", "goodwill").output == f"{ids[1]} is void.\n"
    assert run(env, "pay", "inv_nope").exit_code == 1

    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    bad = run({**env, "PRICE_BOOK_FILE": str(broken)}, "pay", ids[0])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert "PRICE_BOOK_FILE" in bad.output
