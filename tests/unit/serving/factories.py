"""Deployments in a known state, for the unit, property and integration tests."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain.serving.deployment import Deployment
from domain.serving.spec import checked_spec
from domain.shared.cause import SYSTEM

UPSTREAM = "http://127.0.0.1:9000/v1"


def new_deployment(min_replicas: int = 1, max_replicas: int | None = None,
                   org_id: UUID | None = None) -> Deployment:
    spec = checked_spec(backend="upstream", upstream_url=UPSTREAM, min_replicas=min_replicas,
                        max_replicas=max_replicas)
    return Deployment.create(org_id=org_id or uuid4(), project_id=None, name="chat",
                             model="model_" + "a" * 32, spec=spec, metadata={"team": "a"},
                             request_fingerprint="f", cause=SYSTEM)


def url_of(replica_id: str) -> str:
    return f"http://{replica_id}.replicas.internal:8000/v1"


def ready_deployment(replicas: int = 1) -> Deployment:
    """Running with `replicas` ready replicas r0, r1, ... (min = max = replicas)."""
    deployment = new_deployment(min_replicas=replicas)
    for index in range(replicas):
        deployment.replica_starting(f"r{index}", 10.0 + index, SYSTEM)
        deployment.replica_ready(f"r{index}", url_of(f"r{index}"), 20.0 + index, SYSTEM)
    return deployment


def replayed(events: list[Any]) -> Deployment:
    deployment = None
    for domain_event in events:
        deployment = domain_event.mutate(deployment)
    assert isinstance(deployment, Deployment)
    return deployment


def state(deployment: Deployment) -> dict[str, Any]:
    """Everything the deployment knows, for comparing a replayed one with the live one, or
    the same one later (its maps copied: they change in place; replicas are immutable)."""
    return {key: dict(value) if isinstance(value, dict) else value
            for key, value in vars(deployment).items() if key != "_pending_events"}
