"""Reads the price book file (PRICE_BOOK_FILE): JSON, checked before anything is published.

    {"currency": "usd",
     "prices": [{"meter": "inference.input_tokens", "model": "*",
                 "unit_price": "0.20", "unit": 1000000}, ...]}

`unit_price` is a decimal *string* (a JSON number would pass through a float) in US dollars
per `unit` units of the meter; model "*" is the meter's default, and every meter needs one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.billing.pricing import CURRENCY, PriceEntry, checked_entries
from domain.shared.errors import ValidationFailedError
from infra.json_files import read_json_file
from infra.settings import SettingsError

DEFAULT_PRICE_BOOK_FILE = Path(__file__).resolve().parent / "price_book.json"


class PriceBookError(SettingsError):
    """The price book file is missing or malformed; the message is one actionable line."""


def load_price_book(path: Path | None = None) -> tuple[PriceEntry, ...]:
    """The entries of `path`, or of the price book shipped with Bitstride."""
    source = path or DEFAULT_PRICE_BOOK_FILE
    where = f"PRICE_BOOK_FILE {source}"
    document = read_json_file(source, "PRICE_BOOK_FILE", PriceBookError)
    prices = document.get("prices") if isinstance(document, dict) else None
    if not isinstance(prices, list):
        raise PriceBookError(f"{where} must hold {{\"currency\": \"usd\", \"prices\": [...]}}")
    if document.get("currency", CURRENCY) != CURRENCY:
        raise PriceBookError(f"{where}: currency must be {CURRENCY!r}")
    entries = [_entry(where, index, entry) for index, entry in enumerate(prices)]
    try:
        return checked_entries(entries)
    except ValidationFailedError as error:
        raise PriceBookError(f"{where}: {error.message}") from None


def _entry(where: str, index: int, entry: Any) -> PriceEntry:
    if not isinstance(entry, dict):
        raise PriceBookError(f"{where}: price {index} must be an object")
    unknown = sorted(set(entry) - {"meter", "model", "unit_price", "unit"})
    if unknown:
        raise PriceBookError(f"{where}: price {index} has unknown fields {', '.join(unknown)}")
    try:
        return PriceEntry.of(meter=entry.get("meter"), model=entry.get("model", "*"),
                             unit_price=entry.get("unit_price"), unit=entry.get("unit"))
    except ValidationFailedError as error:
        raise PriceBookError(f"{where}: price {index}: {error.message}") from None
