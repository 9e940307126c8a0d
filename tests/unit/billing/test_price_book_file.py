"""The price book file: the shipped one is valid and complete, a broken one fails in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.usage.record import Meter
from infra.billing.loader import PriceBookError, load_price_book
from infra.catalog.loader import load_catalog
from infra.settings import SettingsError, load_settings


def test_the_shipped_price_book_prices_every_meter_and_only_catalog_models() -> None:
    entries = load_price_book()
    assert {entry.meter for entry in entries if entry.model == "*"} == {m.value for m in Meter}
    names = {spec.name for spec in load_catalog()}
    assert {entry.model for entry in entries} - {"*"} <= names


GOOD = {"meter": "rl.grader_calls", "model": "*", "unit_price": "1", "unit": 1}


@pytest.mark.parametrize("document", [
    "not json", "[]", {"prices": {}}, {"currency": "eur", "prices": []}, {"prices": [1]},
    {"prices": [{**GOOD, "unit_price": 0.5}]}, {"prices": [{**GOOD, "colour": "red"}]},
    {"prices": [GOOD]},  # the other meters have no default
])
def test_a_broken_price_book_fails_with_one_line(tmp_path: Path, document: object) -> None:
    path = tmp_path / "prices.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(PriceBookError) as error:
        load_price_book(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    with pytest.raises(PriceBookError):
        load_price_book(tmp_path / "missing.json")


def test_billing_settings() -> None:
    settings = load_settings({})
    assert settings.price_book_file is None and settings.billing_close_grace_seconds == 3600
    custom = load_settings({"PRICE_BOOK_FILE": "/p.json", "BILLING_CLOSE_GRACE_SECONDS": "0"})
    assert custom.price_book_file == Path("/p.json") and custom.billing_close_grace_seconds == 0
    with pytest.raises(SettingsError, match="BILLING_CLOSE_GRACE_SECONDS"):
        load_settings({"BILLING_CLOSE_GRACE_SECONDS": "-1"})
