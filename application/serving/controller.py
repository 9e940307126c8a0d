"""The deployment controller: a process manager of the worker, following the Serving log.

It reconciles what each deployment wants with what its replicas do, through the serving
backend its deployment names:

- After every deployment event, and every `tick` (about once a second), it runs as many
  replicas as the deployment wants (`replicas_wanted`): it starts missing ones and stops
  extra ones (not-yet-ready ones first), recording `replica_starting` / `replica_stopped`.
- Every tick it probes each live replica: a replica that answers its health check becomes
  `ready` (with its URL); one that died, vanished (its worker was killed and nothing runs
  it any more) or stays unhealthy past `ready_timeout_seconds` is recorded `failed`, stopped,
  and replaced on the next pass: replicas are restarted when they crash. (It is recorded
  stopped as well, so the seconds it ran are billed.) After
  `max_consecutive_failures` replicas in a row failed without any ready, the deployment as a
  whole fails (`crash_loop`) instead of restarting forever; a caller's start retries it.
- A backend that cannot serve the deployment at all (BackendRefusedError) fails it with the
  backend's code.
- On each `ReplicaStopped` it records the replica's seconds as usage
  (`deployment.replica_seconds`, rounded up to whole seconds, keyed by the replica), so a
  replay never bills twice.

Every effect is idempotent (backends by replica id, the aggregate by its rules, usage by its
source), so repeating a pass after a crash is harmless. Which deployments need attention is
found once from the log and kept up to date; the aggregates, not a projection, decide.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder

from application.serving.backend import (
    BackendRefusedError,
    ProbeState,
    ReplicaSpec,
    ServedModels,
    ServingBackend,
)
from application.serving.service import DeploymentService
from application.shared.scan import created_ids
from application.training.ports import UsageLedger
from application.usage.service import NewUsage
from domain.serving.deployment import Deployment
from domain.serving.replicas import ReplicaStatus
from domain.shared.cause import Cause
from domain.shared.errors import DomainError, NotFoundError
from domain.shared.ids import format_id
from domain.usage.record import Meter, SourceKind

log = structlog.get_logger("bitstride.serving.controller")
CONTROLLER = Cause(actor_id="deployment-controller", actor_kind="system")
CREATED_TOPIC = "bitstride.serving.Deployment.Created"
REPLICA_STOPPED: type = vars(Deployment)["ReplicaStopped"]


@dataclass(frozen=True)
class ControllerSettings:
    ready_timeout_seconds: float = 60.0  # a replica not healthy by then has failed
    max_consecutive_failures: int = 3    # replicas failed in a row before the deployment


class DeploymentController:
    def __init__(self, serving: DeploymentService, backends: Mapping[str, ServingBackend],
                 recorder: TrackingRecorder, *, models: ServedModels, usage: UsageLedger,
                 settings: ControllerSettings = ControllerSettings(),
                 clock: Callable[[], float] = time.time) -> None:
        self.serving, self.backends, self.recorder = serving, backends, recorder
        self.models, self.usage, self.settings, self.clock = models, usage, settings, clock
        self._active: set[UUID] | None = None  # deployments not known to be settled

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        deployment_id = domain_event.originator_id
        self.active().add(deployment_id)
        if isinstance(domain_event, REPLICA_STOPPED):
            self.bill(deployment_id, domain_event)
        self.reconcile(deployment_id)
        self.recorder.insert_tracking(tracking)

    def tick(self) -> None:
        for deployment_id in list(self.active()):
            deployment = self._deployment(deployment_id)
            if deployment is None:
                self.active().discard(deployment_id)
                continue
            self.observe(deployment)
            self.reconcile(deployment_id)

    # -- observing replicas -----------------------------------------------------------------

    def observe(self, deployment: Deployment) -> None:
        """Record what each live replica's backend says about it now."""
        backend = self.backends[deployment.backend]
        for replica_id in deployment.live_replicas:
            replica = deployment.replicas[replica_id]
            probe = backend.probe(replica_id)
            if probe.state is ProbeState.READY:
                if replica.status is not ReplicaStatus.READY:
                    self._report(self.serving.replica_ready, deployment.id, replica_id,
                                 probe.url or "", self.clock(), CONTROLLER)
                continue
            reason = self._failure(replica.started_at, probe.state, probe.reason)
            if reason is not None:
                log.warning("replica_failed", deployment_id=deployment.id.hex,
                            replica_id=replica_id, reason=reason)
                backend.stop(replica_id)
                self._report(self.serving.replica_failed, deployment.id, replica_id, reason,
                             self.clock(), CONTROLLER)
                # Stopped too: a failed replica's seconds were consumed, and are billed.
                self._report(self.serving.replica_stopped, deployment.id, replica_id,
                             self.clock(), CONTROLLER)

    def _failure(self, started_at: float | None, state: ProbeState,
                 reason: str | None) -> str | None:
        if state is ProbeState.FAILED:
            return reason or "The replica stopped answering."
        if state is ProbeState.GONE:
            return "The replica is gone (its worker stopped and nothing runs it now)."
        waited = self.clock() - (started_at or self.clock())
        if waited > self.settings.ready_timeout_seconds:
            return f"The replica was not healthy within {self.settings.ready_timeout_seconds:g} s."
        return None

    # -- reconciling ------------------------------------------------------------------------

    def reconcile(self, deployment_id: UUID) -> None:
        deployment = self._deployment(deployment_id)
        if deployment is None:
            return
        if self._crash_looping(deployment):
            self._report(self.serving.fail, deployment_id, {
                "code": "crash_loop",
                "message": f"{self.settings.max_consecutive_failures} replicas in a row failed "
                           "before becoming ready."}, self.clock(), CONTROLLER)
            deployment = self._deployment(deployment_id) or deployment
        backend = self.backends[deployment.backend]
        live = sorted(deployment.live_replicas, key=lambda replica_id: (
            deployment.replicas[replica_id].status is ReplicaStatus.READY, replica_id))
        extra = len(live) - deployment.replicas_wanted
        for replica_id in live[:max(extra, 0)]:  # not-yet-ready ones go first
            backend.stop(replica_id)
            self._report(self.serving.replica_stopped, deployment_id, replica_id, self.clock(),
                         CONTROLLER)
        for number in range(len(deployment.replicas) + 1,
                            len(deployment.replicas) + 1 - min(extra, 0)):
            if not self.start(deployment, f"{deployment_id.hex[:12]}-r{number}"):
                return
        if deployment.is_settled and not deployment.live_replicas:
            self.active().discard(deployment_id)

    def start(self, deployment: Deployment, replica_id: str) -> bool:
        try:
            weights = self.models.weights_of(deployment.org_id, deployment.model)
            self.backends[deployment.backend].start(ReplicaSpec(
                deployment_id=deployment.id, replica_id=replica_id, model_name=weights.name,
                base_name=weights.base_name, weights_uri=weights.weights_uri,
                upstream_url=deployment.upstream_url))
        except (BackendRefusedError, NotFoundError) as error:
            code, message = (error.code, error.message) if isinstance(
                error, BackendRefusedError) else ("model_unavailable", str(error))
            self._report(self.serving.fail, deployment.id, {"code": code, "message": message},
                         self.clock(), CONTROLLER)
            return False
        self._report(self.serving.replica_starting, deployment.id, replica_id, self.clock(),
                     CONTROLLER)
        return True

    def _crash_looping(self, deployment: Deployment) -> bool:
        if deployment.is_failed or deployment.ready_replicas or not deployment.replicas_wanted:
            return False
        by_start = sorted(deployment.replicas.values(),
                          key=lambda replica: (replica.started_at or 0.0, replica.id))
        recent = by_start[-self.settings.max_consecutive_failures:]
        return len(recent) == self.settings.max_consecutive_failures and all(
            replica.failed_at is not None and replica.ready_at is None for replica in recent)

    # -- billing ----------------------------------------------------------------------------

    def bill(self, deployment_id: UUID, stopped: Any) -> None:
        deployment = self._deployment(deployment_id)
        if deployment is None:
            return
        self.usage.record([NewUsage(
            source_kind=SourceKind.REPLICA.value,
            source_id=f"{format_id('dep', deployment_id)}:{stopped.replica_id}",
            meter=Meter.DEPLOYMENT_REPLICA_SECONDS.value,
            quantity=math.ceil(stopped.replica_seconds), org_id=deployment.org_id,
            project_id=deployment.project_id, occurred_at=stopped.at, model=deployment.model,
            deployment_id=format_id("dep", deployment_id))], cause=CONTROLLER)

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _report(command: Callable[..., object], *args: Any) -> None:
        """A report the deployment refuses is stale news (it moved on): not fatal."""
        with contextlib.suppress(DomainError):
            command(*args)

    def active(self) -> set[UUID]:
        """Every deployment created so far that was not seen settled; found once from the
        log (settled ones drop out at their first check)."""
        if self._active is None:
            self._active = created_ids(self.serving, CREATED_TOPIC)
        return self._active

    def _deployment(self, deployment_id: UUID) -> Deployment | None:
        deployment = self.serving.get_or_none(deployment_id)
        return deployment if isinstance(deployment, Deployment) else None
