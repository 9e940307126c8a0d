"""Request and response bodies of the deployment routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from interfaces.http.schemas import Name, StringMap

ModelRef = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class CreateDeploymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """`model` is a servable model's id or name; `upstream_url` is required by (and only
    accepted with) the `upstream` backend. `max_replicas` defaults to `min_replicas`, which
    defaults to 1. A deployment is created `running`."""

    model: ModelRef
    backend: str
    upstream_url: str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    name: Name | None = None
    metadata: StringMap = msgspec.field(default_factory=dict)
    project_id: str | None = None


class UpdateDeploymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """What should run: an absent field keeps its value."""

    desired_state: str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


class DeploymentError(msgspec.Struct):
    code: str
    message: str


class DeploymentReplica(msgspec.Struct):
    """A replica that is starting, ready or failed (stopped ones are counted, not listed)."""

    id: str
    status: str
    reason: str | None
    started_at: int | None
    ready_at: int | None
    failed_at: int | None


class ReplicaStats(msgspec.Struct):
    starting: int
    ready: int
    failed: int
    stopped: int


class Deployment(msgspec.Struct):
    id: str
    object: str
    name: str | None
    model: str
    backend: str
    upstream_url: str | None
    desired_state: str
    status: str
    min_replicas: int
    max_replicas: int
    replicas_wanted: int
    replica_stats: ReplicaStats
    replicas: list[DeploymentReplica]
    error: DeploymentError | None
    failed_at: int | None
    metadata: dict[str, str]
    project_id: str | None
    organization_id: str
    allowed_actions: list[str]
    version: int
    created_at: int
    updated_at: int
