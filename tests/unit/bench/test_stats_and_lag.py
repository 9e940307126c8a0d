"""The harness's arithmetic: order statistics and live lag from LISTEN readings."""

from __future__ import annotations

import pytest

from bench.lag import Reading, lags, resolution
from bench.stats import median, percentile, ratio


def test_percentiles_are_observed_values_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_median_of_odd_and_even_rounds_and_ratio() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(1.0, 0.0) is None


def test_lag_runs_from_first_seen_appended_to_first_seen_projected() -> None:
    readings = [Reading(0.0, head=10, position=10),   # before the load: not counted
                Reading(1.0, head=12, position=10),   # 11 and 12 appended
                Reading(1.5, head=13, position=11),   # 13 appended, 11 projected
                Reading(4.0, head=13, position=13)]   # 12 and 13 projected
    assert lags(readings) == [0.5, 3.0, 2.5]
    assert resolution(readings) == 1.0
    assert lags([]) == []


def test_an_event_appended_and_projected_between_readings_reads_as_zero_lag() -> None:
    readings = [Reading(0.0, head=0, position=0), Reading(2.0, head=1, position=1)]
    assert lags(readings) == [0.0]
