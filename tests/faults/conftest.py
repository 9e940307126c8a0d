"""Fault injection (issue 9): fuzzing, crashes, outages and races against real processes.

`make test` runs these with everything else; `make test-faults` runs only them. Every test here
is marked `faults`, so `pytest -m "not faults"` leaves them out of a quick local run."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.faults)
