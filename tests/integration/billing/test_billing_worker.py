"""Billing's worker side on SQLite and Postgres: the price book synced at start, and the
closer, on a fake clock and for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from application.billing.closer import BillingCloser
from domain.billing.invoice import invoice_id
from domain.billing.period import Period
from domain.billing.price_book import PRICE_BOOK_ID, PriceBook
from infra.billing.loader import load_price_book
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.worker import projection_status
from projections.tracking import SqlTrackingRecorder
from projections.usage.projection import PROJECTION_NAME as USAGE
from tests.support.billing import PRICES, at, billing_settings, price_book_file, record
from tests.support.billing import usage as new_usage
from tests.support.waiting import wait_for

IN = "inference.input_tokens"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    base: Settings = request.getfixturevalue(f"{request.param}_settings")
    return billing_settings(base, tmp_path)


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(settings)
    plane.read_models.supervisors[USAGE].start()  # closing waits for the usage projection
    try:
        yield plane
    finally:
        plane.close()


def book(plane: ControlPlane) -> PriceBook:
    found = plane.billing.get_or_none(PRICE_BOOK_ID)
    assert isinstance(found, PriceBook)
    return found


def test_the_price_book_is_published_when_the_file_changes(plane: ControlPlane,
                                                           tmp_path: Path) -> None:
    first = book(plane)  # published when the plane started
    assert (first.price_book_version, first.version) == (1, 2)  # Created, Published
    assert plane.load_price_book() is None and book(plane).version == 2  # unchanged: nothing
    cheaper = [{**price, "unit_price": "0.050"} if price["model"] == "llama-3.2-1b-instruct"
               else price for price in PRICES]
    changed = load_price_book(price_book_file(tmp_path / "..", cheaper))
    assert plane.billing.sync_price_book(changed, at=at(2026, 5, 1)) is not None
    second = book(plane)
    assert (second.price_book_version, second.version) == (2, 3)
    assert second.price(IN, "llama-3.2-1b-instruct").unit_price == "0.05"
    assert second.effective_at == at(2026, 5, 1)
    assert plane.billing.sync_price_book(changed, at=at(2026, 6, 1)) is None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_closer_closes_ended_periods_after_the_grace(plane: ControlPlane) -> None:
    early, late = uuid4(), uuid4()
    record(plane, new_usage(early, "jan", IN, 1_000_000, at(2026, 1, 10), model="m"),
           new_usage(early, "mar", IN, 2_000_000, at(2026, 3, 31, 23, 59, second=59)))
    clock = Clock(at(2026, 4, 1, 0, 30))
    closer = BillingCloser(plane.billing,
                           SqlTrackingRecorder(plane.read_engine, "billing-close-test"),
                           grace_seconds=3600, check_seconds=60, clock=clock)
    assert closer.check(clock.now) == 1  # January; March is still in its grace hour
    clock.now = at(2026, 4, 1, 1, 0, second=1)
    closer.tick()
    mine = {found.period: found.total for found in plane.billing.finalized_invoices(None)
            if found.org_id == early.hex}
    assert mine == {"2026-01": "0.200000", "2026-03": "0.400000"}

    # Late usage of March from an organization with none before: the next check closes it.
    record(plane, new_usage(late, "late", IN, 5_000_000, at(2026, 3, 15)))
    clock.now += 30
    closer.tick()  # within check_seconds of the last check: nothing yet
    assert plane.billing.get_or_none(invoice_id(late, Period(2026, 3))) is None
    clock.now += 31
    closer.tick()
    assert plane.billing.get_or_none(invoice_id(late, Period(2026, 3))) is not None
    assert closer.check(clock.now) == 0  # everything is closed: nothing more to do


def test_the_worker_closes_an_ended_period_by_itself(sqlite_settings: Settings,
                                                     tmp_path: Path) -> None:
    plane = ControlPlane(billing_settings(sqlite_settings, tmp_path).with_overrides(
        billing_close_grace_seconds=0))
    try:
        org = uuid4()  # March's usage is there when the worker starts: its first check closes
        record(plane, new_usage(org, "r", IN, 1_000_000, at(2026, 3, 9), model="m"))
        plane.start_workers()
        row = wait_for(plane, lambda: plane.invoice_queries.invoice(
            org.hex, invoice_id(org, Period(2026, 3)).hex), lambda found: found is not None)
        assert row is not None and (row["status"], row["total"]) == ("finalized", "0.200000")
        assert "billing-close" in {status.name for status in projection_status(plane)}
    finally:
        plane.close()
