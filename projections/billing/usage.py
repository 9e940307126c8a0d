"""The usage sums billing needs, read from the usage read model (billing's BilledUsage port).

`projected_head` is what makes an invoice reproducible: it takes the usage log's head and waits
until the usage projection has applied it, so every record up to that notification id is in
the table the sums read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.billing.pricing import UsageTotal
from projections.paging import Row
from projections.usage.queries import UsageQueries

CATCH_UP_TIMEOUT_SECONDS = 30.0


def totals(rows: list[Row]) -> list[UsageTotal]:
    return [UsageTotal(meter=row["meter"], model=row["model"], quantity=int(row["quantity"]),
                       records=int(row["records"])) for row in rows]


class ProjectedUsage:
    def __init__(self, queries: UsageQueries, usage_log: Any,
                 await_position: Callable[[str, int, float], bool],
                 timeout: float = CATCH_UP_TIMEOUT_SECONDS) -> None:
        """`usage_log`: the Usage application; `await_position(application name, position,
        timeout)`: True once the usage projection has applied the position."""
        self.queries, self.usage_log = queries, usage_log
        self.await_position, self.timeout = await_position, timeout

    def projected_head(self) -> int:
        head: int = self.usage_log.recorder.max_notification_id() or 0
        if head and not self.await_position(self.usage_log.name, head, self.timeout):
            raise TimeoutError(f"The usage projection did not reach the usage log's head "
                               f"({head}) within {self.timeout:g} s; is the worker running? "
                               "(`bitstride projections status`)")
        return head

    def closing_totals(self, org_id: str, start: int, end: int, *,
                       up_to: int) -> list[UsageTotal]:
        return totals(self.queries.record_totals(org_id, start=start, end=end, up_to=up_to))

    def live_totals(self, org_id: str, start: int, end: int) -> list[UsageTotal]:
        return totals(self.queries.day_totals(org_id, start=start, end=end))

    def organizations(self, start: int, end: int) -> list[str]:
        return self.queries.organizations(start=start, end=end)

    def first_usage_at(self) -> int | None:
        return self.queries.first_day()
