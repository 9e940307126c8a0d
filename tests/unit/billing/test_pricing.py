"""Pricing math with Decimal and the rounding rule, prices and price-book entries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.billing.pricing import (
    PriceEntry,
    UsageTotal,
    checked_entries,
    checked_price,
    format_amount,
    line_amount,
    price_for,
    price_lines,
    total_of,
)
from domain.shared.errors import ValidationFailedError
from domain.usage.record import Meter


@pytest.mark.parametrize(("quantity", "price", "unit", "amount"), [
    (1_000_000, "0.40", 1_000_000, "0.400000"),
    (1_234_567, "0.40", 1_000_000, "0.493827"),   # 0.4938268: up
    (250, "0.01", 1_000_000, "0.000003"),          # 0.0000025: half goes up, not to even
    (150, "0.01", 1_000_000, "0.000002"),          # 0.0000015
    (249, "0.01", 1_000_000, "0.000002"),          # 0.00000249: down
    (1, "1", 3, "0.333333"),                       # a repeating decimal, exact until rounded
    (2, "1", 3, "0.666667"),
    (3601, "1.44", 3600, "1.440400"),
    (0, "9.99", 1, "0.000000"),
    (2**53, "0.000000000001", 1, "9007.199255"),  # the largest quantity, the finest price
    (2**53, "1000000", 1, "9007199254740992000000.000000"),  # no float anywhere
])
def test_line_amount_rounds_half_up_to_micro_dollars(quantity: int, price: str, unit: int,
                                                      amount: str) -> None:
    assert format_amount(line_amount(quantity, price, unit)) == amount
    assert line_amount(quantity, Decimal(price), unit) == Decimal(amount)


def test_the_total_is_the_sum_of_rounded_lines() -> None:
    # Three lines of 0.0000005 each round to 0.000001: the total is 0.000003, not a
    # rounding of the unrounded 0.0000015.
    amounts = [format_amount(line_amount(50, "0.01", 1_000_000)) for _ in range(3)]
    assert amounts == ["0.000001"] * 3
    assert format_amount(total_of(amounts)) == "0.000003"


@pytest.mark.parametrize(("raw", "canonical"), [("0.40", "0.4"), ("100", "100"), ("0", "0"),
                                                ("-0", "0"), ("0.000000000001", "0.000000000001"),
                                                ("1E+2", "100")])
def test_prices_are_canonical_decimal_strings(raw: str, canonical: str) -> None:
    assert checked_price(raw) == canonical


@pytest.mark.parametrize("raw", [0.4, 1, "-0.01", "abc", "NaN", "Infinity", "0.0000000000001",
                                 None])
def test_a_price_that_is_not_an_exact_non_negative_decimal_string_is_refused(raw: object) -> None:
    with pytest.raises(ValidationFailedError):
        checked_price(raw)


def defaults(**override: str) -> list[PriceEntry]:
    return [PriceEntry.of(meter=meter.value, model="*",
                          unit_price=override.get(meter.name, "1"), unit=1000)
            for meter in Meter]


def test_entries_need_a_default_per_meter_and_no_twins() -> None:
    entries = defaults()
    assert [entry.meter for entry in checked_entries(reversed(entries))] == sorted(
        meter.value for meter in Meter)
    with pytest.raises(ValidationFailedError, match=r"missing: rl\.grader_calls"):
        checked_entries([entry for entry in entries if entry.meter != "rl.grader_calls"])
    with pytest.raises(ValidationFailedError, match="twice"):
        checked_entries([*entries, entries[0]])
    for bad in ({"meter": "gpu"}, {"model": ""}, {"unit": 0}, {"unit": True}, {"unit": "1"}):
        fields = {"meter": "rl.grader_calls", "model": "*", "unit_price": "1", "unit": 1, **bad}
        with pytest.raises(ValidationFailedError):
            PriceEntry.of(**fields)


def test_a_model_price_overrides_the_default() -> None:
    entries = [*defaults(), PriceEntry.of(meter="inference.input_tokens", model="m",
                                          unit_price="0.5", unit=10)]
    assert price_for(entries, "inference.input_tokens", "m").unit_price == "0.5"
    assert price_for(entries, "inference.input_tokens", "other").model == "*"
    with pytest.raises(ValidationFailedError):
        price_for([], "inference.input_tokens", "m")
    lines = price_lines([UsageTotal("inference.input_tokens", "other", 500, 2),
                         UsageTotal("inference.input_tokens", "m", 25, 1)], entries)
    assert [(line.model, line.amount, line.records) for line in lines] == [
        ("m", "1.250000", 1), ("other", "0.500000", 2)]
