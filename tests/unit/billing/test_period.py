"""Billing periods: UTC months, their bounds, neighbours and names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.billing.period import Period
from domain.shared.errors import ValidationFailedError


def unix(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())  # type: ignore[misc]


def test_bounds_and_neighbours() -> None:
    december = Period.parse("2025-12")
    assert (december.start, december.end) == (unix(2025, 12, 1), unix(2026, 1, 1))
    assert december.next() == Period(2026, 1) and Period(2026, 1).previous() == december
    assert Period.parse("2024-02").end - Period.parse("2024-02").start == 29 * 86400
    assert str(Period(2026, 3)) == "2026-03" and Period(2026, 3) < Period(2026, 4)


def test_the_period_of_an_instant_and_whether_it_ended() -> None:
    assert Period.of(unix(2026, 4, 1) - 0.5) == Period(2026, 3)
    assert Period.of(unix(2026, 4, 1)) == Period(2026, 4)
    march = Period(2026, 3)
    assert not march.has_ended(unix(2026, 4, 1) - 1) and march.has_ended(unix(2026, 4, 1))
    with pytest.raises(ValidationFailedError, match="2026-04-01T00:00:00Z"):
        march.require_ended(unix(2026, 3, 31))


@pytest.mark.parametrize("name", ["2026-3", "2026-13", "2026-00", "26-03", "2026-03-01", "",
                                  "1969-12", " 2026-03"])
def test_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailedError) as error:
        Period.parse(name)
    assert error.value.param == "period"
