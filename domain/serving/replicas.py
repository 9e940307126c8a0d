"""A deployment's replicas, each keyed by the id the controller gave it.

A replica only moves forward: `starting → ready → failed → stopped` (any step may be skipped),
and `stopped` is its end: the controller names a replacement with a new id. A report that
would move a replica back, or repeats where it is, changes nothing (`None` below): reports are
delivered twice, reordered and late, and the first one that arrived wins. A report about a
replica never seen before is recorded as it says, so a lost or late `starting` never leaves a
replica the controller still runs (or already stopped) unaccounted for.

These functions are the one place the rules live: the aggregate applies them to decide, and
the read model applies them to the recorded events, so both hold the same replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class ReplicaStatus(StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


R = ReplicaStatus
_RANK = {R.STARTING: 0, R.READY: 1, R.FAILED: 2, R.STOPPED: 3}
LIVE = frozenset({R.STARTING, R.READY})


@dataclass(frozen=True)
class Replica:
    """`started_at` is when it was reported starting (or ready, if its start never was);
    `url` is where it serves once ready; `reason` why it failed."""

    id: str
    status: ReplicaStatus
    url: str | None = None
    reason: str | None = None
    started_at: float | None = None
    ready_at: float | None = None
    failed_at: float | None = None
    stopped_at: float | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status.value, "url": self.url,
                "reason": self.reason, "started_at": self.started_at,
                "ready_at": self.ready_at, "failed_at": self.failed_at,
                "stopped_at": self.stopped_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Replica:
        return cls(**{**data, "status": ReplicaStatus(data["status"])})


def _forward(current: Replica | None, status: ReplicaStatus) -> bool:
    """Whether a report of `status` moves the replica forward (a new replica always does)."""
    return current is None or _RANK[status] > _RANK[current.status]


def starting(current: Replica | None, replica_id: str, at: float) -> Replica | None:
    if not _forward(current, R.STARTING):
        return None
    return Replica(id=replica_id, status=R.STARTING, started_at=at)


def ready(current: Replica | None, replica_id: str, url: str, at: float) -> Replica | None:
    if not _forward(current, R.READY):
        return None
    base = current or Replica(id=replica_id, status=R.READY, started_at=at)
    return replace(base, status=R.READY, url=url, ready_at=at)


def failed(current: Replica | None, replica_id: str, reason: str, at: float) -> Replica | None:
    if not _forward(current, R.FAILED):
        return None
    base = current or Replica(id=replica_id, status=R.FAILED)
    return replace(base, status=R.FAILED, reason=reason, failed_at=at)


def stopped(current: Replica | None, replica_id: str, at: float) -> Replica | None:
    if not _forward(current, R.STOPPED):
        return None
    base = current or Replica(id=replica_id, status=R.STOPPED)
    return replace(base, status=R.STOPPED, stopped_at=at)


def replica_seconds(replica: Replica | None, stopped_at: float) -> float:
    """Seconds from a replica's start to its stop, for billing (0 when its start is unknown)."""
    if replica is None or replica.started_at is None:
        return 0.0
    return round(max(0.0, stopped_at - replica.started_at), 3)
