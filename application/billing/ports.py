"""What billing needs from the usage read model (implemented in projections/billing/usage.py)."""

from __future__ import annotations

from typing import Protocol

from domain.billing.pricing import UsageTotal


class BilledUsage(Protocol):
    def projected_head(self) -> int:
        """The usage log's head notification id, once the usage projection has applied it
        (TimeoutError if it does not in time)."""

    def closing_totals(self, org_id: str, start: int, end: int, *,
                       up_to: int) -> list[UsageTotal]:
        """Per meter and model, the records with `start <= occurred_at < end` and a
        notification id ≤ `up_to`: what an invoice sums."""

    def live_totals(self, org_id: str, start: int, end: int) -> list[UsageTotal]:
        """Per meter and model, the 1-day buckets in [start, end): a draft's sums."""

    def organizations(self, start: int, end: int) -> list[str]:
        """Hex ids of the organizations with usage in [start, end)."""

    def first_usage_at(self) -> int | None:
        """The start of the earliest 1-day bucket of any organization (None: no usage)."""
