"""What the deployment controller needs from serving backends and from the models context.

A backend runs replicas: processes (or endpoints) that answer the OpenAI protocol. Every call
is idempotent by replica id, and `probe` reads what is true now, so a controller repeating a
call after a crash, or a new worker finding replicas an earlier one started, does no harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class ReplicaSpec:
    """One replica to run: what it serves (`model_name` is what clients send as `model`),
    from which weights (None: the base model's own), or at which upstream URL."""

    deployment_id: UUID
    replica_id: str
    model_name: str
    base_name: str
    weights_uri: str | None
    upstream_url: str | None


class ProbeState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"  # it ran and died, or its health check keeps failing
    GONE = "gone"      # the backend knows nothing of it (never started, or stopped)


@dataclass(frozen=True)
class ReplicaProbe:
    state: ProbeState
    url: str | None = None     # the OpenAI-compatible base URL, once ready (ends in /v1)
    reason: str | None = None  # why it failed


class BackendRefusedError(Exception):
    """The backend cannot serve this deployment at all (say, a model it cannot load): the
    deployment fails with `code` and `message` instead of retrying forever."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class ServingBackend(Protocol):
    def start(self, replica: ReplicaSpec) -> None:
        """Begin running the replica (or find it running); raises BackendRefusedError."""
        ...

    def probe(self, replica_id: str) -> ReplicaProbe: ...

    def stop(self, replica_id: str) -> None:
        """Stop the replica and forget it; stopping an unknown replica does nothing."""
        ...


@dataclass(frozen=True)
class ServedWeights:
    name: str
    base_name: str
    weights_uri: str | None


class ServedModels(Protocol):
    def weights_of(self, org_id: UUID, model: str) -> ServedWeights:
        """The model's name, its root base model's name and its weights; NotFoundError when
        the organization cannot see it (any more)."""
        ...
