"""Prices and amounts, exact: decimal strings and Decimal arithmetic, never floats.

A price is `unit_price` US dollars per `unit` units of a meter: `{"unit_price": "0.40",
"unit": 1000000}` is USD 0.40 per million tokens. A line's amount is

    quantity * unit_price / unit, rounded half-up to 6 decimal places (micro-dollars),

computed as an exact fraction and rounded once; an invoice's total is the sum of
its rounded line amounts, so the lines always add up to the total shown. Amounts are written
with exactly six decimals ("12.345600"). `line_amount` is what reconciliation recomputes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from domain.shared.errors import ValidationFailedError
from domain.usage.record import METERS

CURRENCY = "usd"
DEFAULT_MODEL = "*"  # the entry that prices a meter for every model without its own
MICRO = Decimal("0.000001")
MAX_PRICE_DECIMALS = 12
MAX_UNIT = 10**12
_EXACT = Context(prec=60)  # formatting never rounds a sum of amounts


def line_amount(quantity: int, unit_price: str | Decimal, unit: int) -> Decimal:
    """quantity * unit_price / unit in USD, rounded half-up to micro-dollars, exactly."""
    micros = Fraction(quantity) * Fraction(Decimal(unit_price)) * 1_000_000 / unit
    return Decimal(math.floor(micros + Fraction(1, 2))).scaleb(-6)  # all ≥ 0: half-up


def format_amount(amount: Decimal) -> str:
    """Six decimals, no exponent: "0.400000"."""
    return f"{amount.quantize(MICRO, rounding=ROUND_HALF_UP, context=_EXACT):f}"


def total_of(amounts: Iterable[str | Decimal]) -> Decimal:
    return sum((Decimal(amount) for amount in amounts), Decimal(0))


def checked_price(value: Any, *, param: str = "unit_price") -> str:
    """A non-negative decimal string with at most 12 decimals, in canonical form ("0.4")."""
    try:
        price = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        price = None
    exponent = price.as_tuple().exponent if price is not None else 0
    if price is None or not price.is_finite() or price < 0 \
            or (isinstance(exponent, int) and -exponent > MAX_PRICE_DECIMALS):
        raise ValidationFailedError(
            f"'{param}' must be a decimal string ≥ 0 with at most {MAX_PRICE_DECIMALS} "
            f"decimals (e.g. \"0.40\"), not {value!r}.", param=param)
    return f"{(price + 0).normalize(_EXACT):f}"  # "+ 0": no "-0"


@dataclass(frozen=True)
class PriceEntry:
    """USD `unit_price` per `unit` units of `meter` used with `model` ("*": any model)."""

    meter: str
    model: str
    unit_price: str
    unit: int

    @classmethod
    def of(cls, *, meter: Any, model: Any, unit_price: Any, unit: Any) -> PriceEntry:
        if meter not in METERS:
            raise ValidationFailedError(f"Unknown meter {meter!r}; meters are "
                                        f"{', '.join(sorted(METERS))}.", param="meter")
        if not isinstance(model, str) or not 0 < len(model) <= 256:
            raise ValidationFailedError("'model' must be 1 to 256 characters ('*': every "
                                        "model).", param="model")
        if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= MAX_UNIT:
            raise ValidationFailedError(f"'unit' must be an integer from 1 to {MAX_UNIT}.",
                                        param="unit")
        return cls(meter=str(meter), model=model, unit_price=checked_price(unit_price),
                   unit=unit)

    def as_dict(self) -> dict[str, Any]:
        return {"meter": self.meter, "model": self.model, "unit_price": self.unit_price,
                "unit": self.unit}


def checked_entries(entries: Iterable[PriceEntry]) -> tuple[PriceEntry, ...]:
    """Sorted by (meter, model); no (meter, model) twice, and a "*" price for every meter."""
    ordered = tuple(sorted(entries, key=lambda entry: (entry.meter, entry.model)))
    keys = [(entry.meter, entry.model) for entry in ordered]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValidationFailedError(f"Meter {twice[0]!r} is priced twice for model "
                                    f"{twice[1]!r}.", param="prices")
    missing = sorted(METERS - {meter for meter, model in keys if model == DEFAULT_MODEL})
    if missing:
        raise ValidationFailedError(f"Every meter needs a default price (model \"*\"); "
                                    f"missing: {', '.join(missing)}.", param="prices")
    return ordered


def price_for(entries: Sequence[PriceEntry], meter: str, model: str) -> PriceEntry:
    """The model's own price for the meter, else the meter's default."""
    found = {(entry.meter, entry.model): entry for entry in entries}
    price = found.get((meter, model)) or found.get((meter, DEFAULT_MODEL))
    if price is None:
        raise ValidationFailedError(f"The price book has no price for meter {meter!r}.",
                                    param="meter")
    return price


@dataclass(frozen=True)
class UsageTotal:
    """The usage of one meter and model over a period: its quantity and how many records."""

    meter: str
    model: str  # '' when the records name no model
    quantity: int
    records: int


@dataclass(frozen=True)
class InvoiceLine:
    """One priced line: a meter and model, the quantity summed, the price and the amount."""

    meter: str
    model: str
    quantity: int
    unit_price: str
    unit: int
    amount: str
    records: int

    def as_dict(self) -> dict[str, Any]:
        return {"meter": self.meter, "model": self.model, "quantity": self.quantity,
                "unit_price": self.unit_price, "unit": self.unit, "amount": self.amount,
                "records": self.records}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvoiceLine:
        return cls(meter=data["meter"], model=data["model"], quantity=data["quantity"],
                   unit_price=data["unit_price"], unit=data["unit"], amount=data["amount"],
                   records=data["records"])


def price_lines(totals: Iterable[UsageTotal],
                entries: Sequence[PriceEntry]) -> tuple[InvoiceLine, ...]:
    """One line per meter and model with usage, in (meter, model) order."""
    lines = []
    for total in sorted(totals, key=lambda t: (t.meter, t.model)):
        price = price_for(entries, total.meter, total.model)
        lines.append(InvoiceLine(
            meter=total.meter, model=total.model, quantity=total.quantity,
            unit_price=price.unit_price, unit=price.unit,
            amount=format_amount(line_amount(total.quantity, price.unit_price, price.unit)),
            records=total.records))
    return tuple(lines)
