"""`GET /v1/usage`'s answer: bucket rows summed into pages of buckets, in the shape of
OpenAI's organization usage API (`object: "page"` of `object: "bucket"`s with `results`).

A result sums the rows of one bucket that share the requested `group_by` dimensions; its
`quantities` hold one total per meter (meters count different units, so they are never added
together), and `num_records` how many usage records the result sums. Buckets without usage
are listed with no results, as OpenAI does, so a page covers a contiguous time range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

import msgspec

from domain.shared.ids import format_id
from projections.paging import Row
from projections.usage.tables import WIDTHS

GROUPS = ("project_id", "model", "meter", "api_key_id")
# The most buckets one page may hold, and the default, per width (as OpenAI's usage API).
PAGE_LIMITS = {"1m": (1440, 60), "1h": (168, 24), "1d": (31, 7)}


class UsageResult(msgspec.Struct, omit_defaults=True):
    """Dimensions not grouped by are left out; `object` is always there (no default)."""

    object: str
    quantities: dict[str, int]
    num_records: int
    project_id: str | None = None
    model: str | None = None
    meter: str | None = None
    api_key_id: str | None = None


class UsageBucket(msgspec.Struct):
    start_time: int
    end_time: int
    results: list[UsageResult]
    object: str = "bucket"


class UsagePage(msgspec.Struct):
    data: list[UsageBucket]
    has_more: bool
    next_page: str | None
    object: str = "page"


def bucket_starts(start_time: int, end_time: int, width: str) -> range:
    """Every bucket start from the one holding `start_time` up to `end_time` (exclusive), lazy:
    a query may span decades of minutes, of which a request lists one page."""
    seconds = WIDTHS[width]
    return range(start_time // seconds * seconds, end_time, seconds)


def _public(dimension: str, value: str) -> str | None:
    """A row's stored dimension as the API shows it ('' means the record had none)."""
    if not value:
        return None
    return format_id("proj", UUID(hex=value)) if dimension == "project_id" else value


def results(rows: Iterable[Row], group_by: Sequence[str]) -> list[UsageResult]:
    sums: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for row in rows:
        key = tuple(row[dimension] for dimension in group_by)
        sums[key][row["meter"]] += row["quantity"]
        counts[key] += row["records"]
    found = []
    for key in sorted(sums):
        labels = {dimension: _public(dimension, value) for dimension, value in zip(group_by, key,
                                                                                  strict=True)}
        found.append(UsageResult(object="usage.result",
                                 quantities=dict(sorted(sums[key].items())),
                                 num_records=counts[key], **labels))
    return found


def usage_page(rows: Iterable[Row], starts: Sequence[int], width: str,
               group_by: Sequence[str], has_more: bool) -> UsagePage:
    by_start: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_start[row["start"]].append(row)
    seconds = WIDTHS[width]
    buckets = [UsageBucket(start_time=start, end_time=start + seconds,
                           results=results(by_start[start], group_by)) for start in starts]
    next_page = str(starts[-1] + seconds) if has_more and starts else None
    return UsagePage(data=buckets, has_more=has_more, next_page=next_page)
