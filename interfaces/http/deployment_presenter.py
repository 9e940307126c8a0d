"""Deployment objects for the API.

A deployment is presented from its read-model row; after a write, the aggregate is first turned
into the same row shape (`row_of`), so both paths share one presenter. Replicas' URLs are
internal addresses for the gateway and are never shown.
"""

from __future__ import annotations

from typing import Any

from domain.serving.deployment import Deployment as DeploymentAggregate
from domain.serving.replicas import ReplicaStatus
from domain.serving.status import DeploymentStatus, DesiredState, allowed_actions, replicas_wanted
from interfaces.http.deployment_schemas import (
    Deployment,
    DeploymentError,
    DeploymentReplica,
    ReplicaStats,
)

PREFIX = "dep"


def _unix(value: float | None) -> int | None:
    return None if value is None else int(value)


def row_of(deployment: DeploymentAggregate) -> dict[str, Any]:
    """The aggregate as the projection would write its row."""
    return {
        "id": deployment.id.hex, "org_id": deployment.org_id.hex,
        "project_id": deployment.project_id.hex if deployment.project_id else None,
        "name": deployment.name, "model": deployment.model, "backend": deployment.backend,
        "upstream_url": deployment.upstream_url,
        "desired_state": deployment.desired_state.value, "status": deployment.status.value,
        "min_replicas": deployment.min_replicas, "max_replicas": deployment.max_replicas,
        "replicas": {key: replica.as_dict() for key, replica in deployment.replicas.items()},
        "error": dict(deployment.error) if deployment.error else None,
        "failed_at": _unix(deployment.failed_at), "metadata": dict(deployment.metadata),
        "created_at": int(deployment.created_at),
        "updated_at": int(deployment.modified_on.timestamp()), "version": deployment.version}


def deployment_from_row(row: dict[str, Any]) -> Deployment:
    status, desired = DeploymentStatus(row["status"]), DesiredState(row["desired_state"])
    replicas = [row["replicas"][key] for key in sorted(row["replicas"])]
    counts = {state.value: 0 for state in ReplicaStatus}
    for replica in replicas:
        counts[replica["status"]] += 1
    error = row["error"]
    return Deployment(
        id=f"{PREFIX}_{row['id']}", object="deployment", name=row["name"], model=row["model"],
        backend=row["backend"], upstream_url=row["upstream_url"],
        desired_state=desired.value, status=status.value, min_replicas=row["min_replicas"],
        max_replicas=row["max_replicas"],
        replicas_wanted=replicas_wanted(desired, status, row["min_replicas"]),
        replica_stats=ReplicaStats(**counts),
        replicas=[DeploymentReplica(
            id=replica["id"], status=replica["status"], reason=replica["reason"],
            started_at=_unix(replica["started_at"]), ready_at=_unix(replica["ready_at"]),
            failed_at=_unix(replica["failed_at"]))
            for replica in replicas if replica["status"] != ReplicaStatus.STOPPED.value],
        error=DeploymentError(code=error["code"], message=error["message"]) if error else None,
        failed_at=row["failed_at"], metadata=row["metadata"],
        project_id=f"proj_{row['project_id']}" if row["project_id"] else None,
        organization_id=f"org_{row['org_id']}",
        allowed_actions=list(allowed_actions(status)), version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"])
