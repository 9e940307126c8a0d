"""UsageRecord: one measured quantity of one meter, caused by one source.

A record's id is derived from its source (`job`, `request`, `replica`), the source's id and
the meter, so recording the same usage twice finds the same aggregate: ingestion is
idempotent by construction, whatever retries or replays happen upstream. Quantities are
integers (tokens, calls, seconds): exact, never floats.

A record may carry `attributes`: a small, flat, JSON-safe mapping of facts about its source
that auditors need and that are not quantities (for an inference request: `latency_ms`,
`status`, `streamed`). They were added after release as a defaulted keyword at the end of the
creation event, so events stored before carry none and still load (with `{}`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.cause import Cause
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import derived_id

MAX_QUANTITY = 2**53  # exact in JSON numbers
MAX_ATTRIBUTES = 16
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_TEXT = 256

AttributeValue = str | int | float | bool | None


class Meter(StrEnum):
    FINE_TUNING_TRAINED_TOKENS = "fine_tuning.trained_tokens"
    RL_TRAINED_TOKENS = "rl.trained_tokens"
    RL_GRADER_CALLS = "rl.grader_calls"
    INFERENCE_INPUT_TOKENS = "inference.input_tokens"
    INFERENCE_OUTPUT_TOKENS = "inference.output_tokens"
    DEPLOYMENT_REPLICA_SECONDS = "deployment.replica_seconds"


class SourceKind(StrEnum):
    JOB = "job"
    REQUEST = "request"
    REPLICA = "replica"


METERS, SOURCE_KINDS = frozenset(Meter), frozenset(SourceKind)


def usage_id(source_kind: str, source_id: str, meter: str) -> UUID:
    return derived_id("usage", source_kind, source_id, meter)


def check_usage(*, source_kind: str, source_id: str, meter: str, quantity: int,
                attributes: Mapping[str, Any] | None = None) -> None:
    """The rules of a usage record, callable before one is built (e.g. when buffering it)."""
    if source_kind not in SOURCE_KINDS:
        raise ValidationFailedError(f"Unknown usage source {source_kind!r}.",
                                    param="source_kind")
    if meter not in METERS:
        raise ValidationFailedError(f"Unknown meter {meter!r}.", param="meter")
    if not isinstance(source_id, str) or not source_id or len(source_id) > 200:
        raise ValidationFailedError("'source_id' must be 1 to 200 characters.",
                                    param="source_id")
    if isinstance(quantity, bool) or not isinstance(quantity, int) \
            or not 0 <= quantity <= MAX_QUANTITY:
        raise ValidationFailedError("'quantity' must be a non-negative integer.",
                                    param="quantity")
    if attributes is not None:
        check_attributes(attributes)


def check_attributes(attributes: Mapping[str, Any]) -> None:
    """Flat, bounded and JSON-safe: at most 16 names, each mapped to a short string, a
    finite number, a boolean or null."""
    if not isinstance(attributes, Mapping) or len(attributes) > MAX_ATTRIBUTES:
        raise ValidationFailedError(
            f"'attributes' must be a mapping of at most {MAX_ATTRIBUTES} entries.",
            param="attributes")
    for name, value in attributes.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_ATTRIBUTE_NAME:
            raise ValidationFailedError(
                f"Attribute names must be 1 to {MAX_ATTRIBUTE_NAME} characters.",
                param="attributes")
        if not _json_scalar(value):
            raise ValidationFailedError(
                f"Attribute {name!r} must be a short string, a finite number, a boolean "
                "or null.", param=f"attributes.{name}")


def _json_scalar(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_QUANTITY
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_TEXT


class UsageRecord(Aggregate):
    TOPIC = "bitstride.usage.UsageRecord"

    @staticmethod
    def create_id(source_kind: str, source_id: str, meter: str, **_: Any) -> UUID:
        return usage_id(source_kind, source_id, meter)

    @event("Created", topic="bitstride.usage.UsageRecord.Created")
    def __init__(self, *, source_kind: str, source_id: str, meter: str, quantity: int,
                 org_id: UUID, project_id: UUID | None, model: str | None,
                 api_key_id: str | None, deployment_id: str | None, occurred_at: float,
                 cause: Cause, attributes: dict[str, AttributeValue] | None = None) -> None:
        # `attributes` last and defaulted: Created events stored before it existed still load.
        self.source_kind, self.source_id = SourceKind(source_kind), source_id
        self.meter, self.quantity = Meter(meter), quantity
        self.org_id, self.project_id, self.model = org_id, project_id, model
        self.api_key_id, self.deployment_id = api_key_id, deployment_id
        self.occurred_at, self.last_cause = occurred_at, cause
        self.attributes: dict[str, AttributeValue] = dict(attributes or {})

    @classmethod
    def record(cls, *, source_kind: str, source_id: str, meter: str, quantity: int,
               org_id: UUID, project_id: UUID | None, occurred_at: float, cause: Cause,
               model: str | None = None, api_key_id: str | None = None,
               deployment_id: str | None = None,
               attributes: Mapping[str, AttributeValue] | None = None) -> UsageRecord:
        check_usage(source_kind=source_kind, source_id=source_id, meter=meter,
                    quantity=quantity, attributes=attributes)
        return cls(source_kind=source_kind, source_id=source_id, meter=meter,
                   quantity=quantity, org_id=org_id, project_id=project_id, model=model,
                   api_key_id=api_key_id, deployment_id=deployment_id,
                   occurred_at=occurred_at, cause=cause,
                   attributes=dict(attributes) if attributes else None)
