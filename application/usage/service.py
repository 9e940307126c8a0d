"""Usage use cases: record what was consumed, exactly once per source and meter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.shared.base import BitstrideApplication
from domain.shared.cause import Cause
from domain.usage.record import AttributeValue, UsageRecord, check_usage, usage_id


@dataclass(frozen=True)
class NewUsage:
    source_kind: str
    source_id: str
    meter: str
    quantity: int
    org_id: UUID
    project_id: UUID | None
    occurred_at: float
    model: str | None = None
    api_key_id: str | None = None
    deployment_id: str | None = None
    attributes: Mapping[str, AttributeValue] | None = None
    # Who caused this record, when it differs from the batch's cause (the gateway batches
    # many requests into one save, each with its own request id).
    cause: Cause | None = None

    @property
    def id(self) -> UUID:
        return usage_id(self.source_kind, self.source_id, self.meter)

    def check(self) -> None:
        """Raise ValidationFailedError now if `to_record` would (so a buffer can refuse it)."""
        check_usage(source_kind=self.source_kind, source_id=self.source_id, meter=self.meter,
                    quantity=self.quantity, attributes=self.attributes)

    def to_record(self, cause: Cause) -> UsageRecord:
        return UsageRecord.record(
            source_kind=self.source_kind, source_id=self.source_id, meter=self.meter,
            quantity=self.quantity, org_id=self.org_id, project_id=self.project_id,
            occurred_at=self.occurred_at, cause=self.cause or cause, model=self.model,
            api_key_id=self.api_key_id, deployment_id=self.deployment_id,
            attributes=self.attributes)


class UsageService(BitstrideApplication):
    name = "Usage"

    def record(self, usage: Sequence[NewUsage], *, cause: Cause) -> int | None:
        """Save every record not recorded before, all in one transaction.

        Returns the last position written, or None when every record already existed.
        Optimistic: the common case (all new) costs one write; when a record exists (a
        retry, a replay, a racing writer) the existing ones are dropped and the rest saved.
        `cause` is recorded on each record that does not name its own.
        """
        first: dict[UUID, NewUsage] = {}
        for item in usage:
            first.setdefault(item.id, item)  # a source twice in one batch: the first wins
        pending = list(first.values())
        while pending:
            try:  # fresh aggregates each attempt: a failed save used up their events
                return self.last_position(self.save(*(item.to_record(cause)
                                                      for item in pending)))
            except IntegrityError:
                fresh = [item for item in pending if self.get_or_none(item.id) is None]
                if len(fresh) == len(pending):
                    raise
                pending = fresh
        return None
