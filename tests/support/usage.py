"""Reading the usage records the platform recorded, straight from the Usage log."""

from __future__ import annotations

from domain.usage.record import UsageRecord
from interfaces.control_plane import ControlPlane

CREATED = "bitstride.usage.UsageRecord.Created"


def usage_records(plane: ControlPlane) -> list[UsageRecord]:
    """Every record so far (the topic filter matters on SQLite, where contexts share a table)."""
    usage = plane.usage
    return [usage.repository.get(usage.mapper.to_domain_event(notification).originator_id)
            for notification in usage.recorder.select_notifications(1, 100_000,
                                                                    topics=[CREATED])]
