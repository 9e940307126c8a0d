"""Finding every aggregate of a kind from its application's log."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

SCAN_PAGE = 1000


def created_ids(app: Application[UUID], created_topic: str) -> set[UUID]:
    """The ids of every aggregate whose creation event has `created_topic`, in pages."""
    found: set[UUID] = set()
    start = 1
    while True:
        page = app.recorder.select_notifications(start, SCAN_PAGE, topics=[created_topic])
        found.update(UUID(str(notification.originator_id)) for notification in page)
        if len(page) < SCAN_PAGE:
            return found
        start = page[-1].id + 1
