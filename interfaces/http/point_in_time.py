"""Point-in-time reads: `?as_of=` or `?version=` on a single-object GET, rebuilt from the log.

Without either, a GET reads its projection as always. With one, the object is the aggregate
replayed from its events: up to `version`, or up to the last event recorded by the end of the
`as_of` second. An object that did not exist yet, another tenant's, one of another type, and
a version past the current one are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from litestar.params import QueryParameter

from domain.shared.errors import NotFoundError
from interfaces.http.errors import ApiError

AsOf = Annotated[int | None, QueryParameter(
    ge=0, description="Unix seconds: the object as it was at the end of that second, "
                      "rebuilt from the event log. Not with `version`.")]
Version = Annotated[int | None, QueryParameter(
    ge=1, description="The object as it was at this version (its `version`, its ETag), "
                      "rebuilt from the event log. Not with `as_of`.")]
POINT_IN_TIME = ("Add `as_of` (unix seconds) or `version` to read the object as it was then, "
                 "rebuilt from the event log (with that version's ETag); 404 before it existed "
                 "or past its current version.")

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class PointInTime:
    as_of: int | None = None
    version: int | None = None


def point_in_time(as_of: int | None, version: int | None) -> PointInTime | None:
    """The requested moment, None for a plain read; both at once is a 400."""
    if as_of is not None and version is not None:
        raise ApiError(400, "invalid_request", "Give 'as_of' or 'version', not both.",
                       param="version")
    if as_of is None and version is None:
        return None
    return PointInTime(as_of=as_of, version=version)


def load_at(app: Application[UUID], kind: type[A], aggregate_id: UUID, when: PointInTime, *,
            what: str, visible: Callable[[A], bool]) -> A:
    """The aggregate of type `kind` as it was `when`, if `visible` to the caller (checked
    before anything about its versions is said); else NotFoundError."""
    version = when.version if when.version is not None else \
        _version_as_of(app, aggregate_id, when.as_of or 0)
    # One message for every case, so it tells nothing about other tenants' objects.
    missing = NotFoundError(f"No such {what} at that time.")
    if version is None:
        raise missing
    try:
        aggregate: Any = app.repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        raise missing from None
    if not isinstance(aggregate, kind) or not visible(aggregate):
        raise missing
    if aggregate.version != version:
        raise NotFoundError(f"The {what} has no version {version}; its current version is "
                            f"{aggregate.version}.", param="version")
    return aggregate


def _version_as_of(app: Application[UUID], aggregate_id: UUID, as_of: int) -> int | None:
    """The last version recorded by the end of second `as_of`, or None."""
    version = None
    for event in app.events.get(aggregate_id):
        if int(event.timestamp.timestamp()) > as_of:
            break
        version = event.originator_version
    return version
