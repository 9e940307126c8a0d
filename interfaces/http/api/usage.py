"""`GET /v1/usage`: the organization's usage in buckets, read from the usage projection.

Shaped like OpenAI's organization usage API: `start_time` (required, unix seconds,
inclusive), `end_time` (exclusive, default now), `bucket_width` (`1m`, `1h`, `1d`),
`group_by` (any of project_id, model, meter, api_key_id), filters `project_ids`, `models`
(model ids) and `meters`, and bucket pagination: `limit` buckets a page, `page` the
`next_page` cursor of the previous one. A project key sees only its project's usage.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from domain.shared.errors import NotFoundError, ValidationFailedError
from domain.shared.ids import parse_id
from domain.usage.record import METERS
from interfaces.control_plane import ControlPlane
from interfaces.http.docs import errors
from interfaces.http.security import Principal, require_scope
from interfaces.http.usage_report import GROUPS, PAGE_LIMITS, UsagePage, bucket_starts, usage_page

Width = Literal["1m", "1h", "1d"]
# The last second of year 9999: a later time is no date, and overflows the stores' integers.
LAST_TIME = 253_402_300_799
PAGE = re.compile(r"[0-9]{1,12}")  # a `next_page`: unix seconds (ASCII digits only)
Many = Annotated[list[str] | None, QueryParameter(
    description="Repeat the parameter, or separate values with commas.")]


def values_of(raw: list[str] | None) -> list[str]:
    return [value for item in raw or [] for value in item.split(",") if value]


def checked_choice(values: list[str], allowed: tuple[str, ...] | frozenset[str],
                   param: str) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationFailedError(
            f"'{param}' takes {', '.join(sorted(allowed))}; not {', '.join(unknown)}.",
            param=param)
    return values


class UsageController(Controller):
    path = "/v1/usage"
    tags = ["Usage"]

    @get(sync_to_thread=True, operation_id="getUsage",
         summary="Usage in time buckets, grouped and filtered",
         responses=errors(400, 401, 403))
    def usage(self, principal: NamedDependency[Principal], plane: NamedDependency[ControlPlane], *,
              start_time: Annotated[int, QueryParameter(ge=0, le=LAST_TIME)],
              end_time: Annotated[int | None, QueryParameter(ge=0, le=LAST_TIME)] = None,
              bucket_width: Annotated[Width, QueryParameter()] = "1d",
              group_by: Many = None, project_ids: Many = None, models: Many = None,
              meters: Many = None, limit: Annotated[int | None, QueryParameter(ge=1)] = None,
              page: Annotated[str | None, QueryParameter(
                  description="The `next_page` of the previous page.")] = None) -> UsagePage:
        require_scope(principal, "usage:read")
        end = int(time.time()) if end_time is None else end_time
        if end <= start_time:
            raise ValidationFailedError("'end_time' must be after 'start_time'.",
                                        param="end_time")
        most, default = PAGE_LIMITS[bucket_width]
        if limit is not None and limit > most:
            raise ValidationFailedError(f"'limit' is at most {most} for {bucket_width} buckets.",
                                        param="limit")
        starts = bucket_starts(self._page_start(page, start_time), end, bucket_width)
        shown, has_more = starts[:limit or default], len(starts) > (limit or default)
        rows = plane.usage_queries.buckets(
            principal.org_hex, bucket_width, start=shown[0] if shown else end,
            end=shown[-1] + 1 if shown else end,
            project_ids=self._projects(principal, values_of(project_ids)),
            models=values_of(models),
            meters=checked_choice(values_of(meters), METERS, "meters"))
        return usage_page(rows, shown, bucket_width,
                          checked_choice(values_of(group_by), GROUPS, "group_by"), has_more)

    @staticmethod
    def _page_start(page: str | None, start_time: int) -> int:
        if page is None:
            return start_time
        if not PAGE.fullmatch(page) or int(page) < start_time:
            raise ValidationFailedError("'page' must be a 'next_page' value of this query.",
                                        param="page")
        return int(page)

    @staticmethod
    def _projects(principal: Principal, requested: list[str]) -> list[str]:
        """Hex ids to filter on; a project key is held to its own project."""
        try:
            wanted = [parse_id("proj", project).hex for project in requested]
        except NotFoundError:
            raise ValidationFailedError("'project_ids' takes project ids (proj_…).",
                                        param="project_ids") from None
        if principal.project_id is None:
            return wanted
        own = principal.project_id.hex
        if wanted and wanted != [own]:
            raise NotFoundError("No such project.", param="project_ids")
        return [own]
