"""Serving use cases: create deployments, change what they should run, record their replicas.

The user's commands (create, read, update) check the tenant; the deployment controller's
commands (replica_starting ... fail) address a deployment by id alone, as the worker does.
Controller reports that are duplicates, reordered or late save nothing and return an Outcome
whose `position` is None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from application.serving.ports import ModelCatalog, ServableModel
from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome, require_version
from domain.serving.deployment import Deployment
from domain.serving.spec import checked_spec
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, ValidationFailedError


@dataclass(frozen=True)
class NewDeployment:
    """A create command, as the caller sent it. `model` is a model's id or name."""

    model: str
    backend: str
    upstream_url: str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    project_id: UUID | None = None


def servable_model(catalog: ModelCatalog, org_id: UUID, model: str) -> ServableModel:
    """The model a deployment may serve, or a 400 naming `model`."""
    try:
        found = catalog.servable(org_id, model)
    except NotFoundError:
        raise ValidationFailedError(f"No such model: {model!r}.", param="model") from None
    if not found.serving:
        raise ValidationFailedError(f"Model {model!r} cannot be served.", param="model")
    return found


class DeploymentService(BitstrideApplication):
    """Deployments of organizations. One method per command."""

    name = "Serving"

    def __init__(self, env: Any = None, *, models: ModelCatalog | None = None) -> None:
        super().__init__(env)
        self.models = models

    # -- the user's commands ----------------------------------------------------------------

    def create_deployment(self, org_id: UUID, new: NewDeployment, *, request_fingerprint: str,
                          cause: Cause) -> Outcome[Deployment]:
        """Checks everything first; a retried keyed create returns the first deployment."""

        def attempt() -> Outcome[Deployment]:
            if cause.idempotency_key is not None:
                earlier = self.get_or_none(Deployment.create_id(org_id, cause.idempotency_key))
                if earlier is not None:
                    return self.replay(earlier, Deployment, request_fingerprint)
            if self.models is None:
                raise RuntimeError("DeploymentService needs its model catalog.")
            spec = checked_spec(backend=new.backend, upstream_url=new.upstream_url,
                                min_replicas=new.min_replicas, max_replicas=new.max_replicas)
            model = servable_model(self.models, org_id, new.model)
            deployment = Deployment.create(
                org_id=org_id, project_id=new.project_id, name=new.name, model=model.id,
                spec=spec, metadata=new.metadata, request_fingerprint=request_fingerprint,
                cause=cause)
            return Outcome(deployment, self.last_position(self.save(deployment)))

        return retry_on_conflict(attempt)

    def deployment(self, org_id: UUID, deployment_id: UUID) -> Deployment:
        deployment = self._load(deployment_id)
        deployment.require_visible_to(org_id)
        return deployment

    def update_deployment(self, org_id: UUID, deployment_id: UUID, *,
                          expected_version: int | None, desired_state: str | None = None,
                          min_replicas: int | None = None, max_replicas: int | None = None,
                          cause: Cause) -> Outcome[Deployment]:
        """Start, stop or rescale; If-Match (`expected_version`) makes it conditional. A
        change to what is already wanted saves nothing (`position` None)."""

        def command(deployment: Deployment) -> None:
            require_version(deployment, expected_version)
            deployment.update(desired_state=desired_state, min_replicas=min_replicas,
                              max_replicas=max_replicas, cause=cause)

        return self._apply(deployment_id, command, org_id=org_id)

    # -- the deployment controller's commands ------------------------------------------------

    def replica_starting(self, deployment_id: UUID, replica_id: str, at: float,
                         cause: Cause) -> Outcome[Deployment]:
        return self._apply(deployment_id, lambda d: d.replica_starting(replica_id, at, cause))

    def replica_ready(self, deployment_id: UUID, replica_id: str, url: str, at: float,
                      cause: Cause) -> Outcome[Deployment]:
        return self._apply(deployment_id,
                           lambda d: d.replica_ready(replica_id, url, at, cause))

    def replica_failed(self, deployment_id: UUID, replica_id: str, reason: str, at: float,
                       cause: Cause) -> Outcome[Deployment]:
        return self._apply(deployment_id,
                           lambda d: d.replica_failed(replica_id, reason, at, cause))

    def replica_stopped(self, deployment_id: UUID, replica_id: str, at: float,
                        cause: Cause) -> Outcome[Deployment]:
        return self._apply(deployment_id, lambda d: d.replica_stopped(replica_id, at, cause))

    def fail(self, deployment_id: UUID, error: Mapping[str, Any], at: float,
             cause: Cause) -> Outcome[Deployment]:
        return self._apply(deployment_id, lambda d: d.fail(error, at, cause))

    # -- plumbing -------------------------------------------------------------------------------

    def _load(self, deployment_id: UUID) -> Deployment:
        deployment = self.get_or_none(deployment_id)
        if not isinstance(deployment, Deployment):
            raise NotFoundError("No such deployment.")
        return deployment

    def _apply(self, deployment_id: UUID, command: Callable[[Deployment], object], *,
               org_id: UUID | None = None) -> Outcome[Deployment]:
        """Load, decide, save; the loser of a version race retries on the fresh state."""

        def attempt() -> Outcome[Deployment]:
            deployment = self._load(deployment_id) if org_id is None else self.deployment(
                org_id, deployment_id)
            command(deployment)
            return Outcome(deployment, self.last_position(self.save(deployment)))

        return retry_on_conflict(attempt)
