"""UsageRecord: the id follows from the source, and every field is checked."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.shared.cause import SYSTEM
from domain.shared.errors import ValidationFailedError
from domain.usage.record import Meter, UsageRecord, usage_id


def record(**overrides: Any) -> UsageRecord:
    fields: dict[str, Any] = {
        "source_kind": "job", "source_id": "ftjob_1", "meter": Meter.RL_GRADER_CALLS.value,
        "quantity": 12, "org_id": uuid4(), "project_id": None, "occurred_at": 1.0,
        "cause": SYSTEM}
    return UsageRecord.record(**(fields | overrides))


def test_the_same_source_and_meter_is_the_same_record() -> None:
    first, again = record(), record(quantity=13)
    assert first.id == again.id == usage_id("job", "ftjob_1", "rl.grader_calls")
    assert record(meter="rl.trained_tokens").id != first.id
    assert record(source_id="ftjob_2").id != first.id


@pytest.mark.parametrize(("field", "value"), [
    ("meter", "gpu.hours"), ("source_kind", "invoice"), ("source_id", ""),
    ("source_id", "x" * 201), ("quantity", -1), ("quantity", 1.5), ("quantity", True),
    ("quantity", 2**53 + 1)])
def test_a_bad_field_is_refused_naming_it(field: str, value: object) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        record(**{field: value})
    assert raised.value.param == field


def test_attributes_are_kept_as_a_plain_copy_and_default_to_none() -> None:
    given = {"latency_ms": 12.5, "status": 499, "streamed": True, "note": None}
    kept = record(attributes=given)
    given["status"] = 200
    assert kept.attributes == {"latency_ms": 12.5, "status": 499, "streamed": True, "note": None}
    assert record().attributes == {}


@pytest.mark.parametrize("attributes", [
    {"latency_ms": float("nan")}, {"latency_ms": float("inf")}, {"nested": {"a": 1}},
    {"list": [1]}, {"text": "x" * 257}, {"": 1}, {"n" * 65: 1}, {"big": 2**53 + 1},
    {f"k{i}": i for i in range(17)}, ["not", "a", "mapping"]])
def test_attributes_must_be_flat_bounded_and_json_safe(attributes: object) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        record(attributes=attributes)
    assert (raised.value.param or "").startswith("attributes")
