"""Deployment: a model served by replicas, whose state is exactly what replaying its events gives.

Desired and observed state are kept apart. The caller sets the desired state (`running` or
`stopped`) and the replica bounds with `update`; the deployment controller reports what its
replicas do (`replica_starting`, `replica_ready`, `replica_failed`, `replica_stopped`) and
gives up on a deployment as a whole with `fail`. The observed `status` is never set by either:
each command derives it from the desired state and the replicas (domain/serving/status.py,
`derive`) and its event records the result, so a replay reaches the same status even if the
rule changes later.

The derivation, in order:

1. stopped is wanted: `stopped` when no replica is live (starting or ready), else `stopping`;
2. it had failed (and running is still wanted): `failed`, whatever the replicas report, until
   the caller starts it again (the retry) or stops it;
3. running is wanted, at least `min_replicas` replicas are ready and at most `max_replicas`
   are live: `ready`;
4. otherwise `updating` if it was `ready` or `updating` (a replica was lost, or a change is
   being carried out), or `creating` if it has not been ready since it was (re)started.

Controller reports are facts and never raise for being late: a report that repeats what is
recorded, or would move a replica backwards (domain/serving/replicas.py), changes nothing and
returns False, like duplicate executor reports on jobs. Reports are recorded in every status:
a replica that becomes ready after a stop is still live and keeps the deployment `stopping`
until the controller stops it too. `fail` is ignored (False) when the deployment already
failed, or when stopped is wanted (nothing is served to fail). Only a caller's command can be
refused with InvalidStateTransitionError: starting a deployment that is still `stopping`.

`replica_stopped` records on its event the replica's `replica_seconds` (from its start to its
stop), what billing sums. A replica whose start was never reported counts 0 seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.serving import replicas as rules
from domain.serving.replicas import Replica, ReplicaStatus
from domain.serving.spec import (
    ServingSpec,
    checked_at,
    checked_bounds,
    checked_error,
    checked_reason,
    checked_replica_id,
    checked_url,
)
from domain.serving.status import (
    ROUTABLE,
    DeploymentStatus,
    DesiredState,
    allowed_actions,
    derive,
    require,
)
from domain.serving.status import replicas_wanted as wanted
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, ValidationFailedError
from domain.shared.ids import derived_id
from domain.shared.text import checked_metadata, checked_name

MAX_MODEL_LENGTH = 256


def checked_desired_state(value: str) -> DesiredState:
    try:
        return DesiredState(value)
    except ValueError:
        raise ValidationFailedError("'desired_state' must be running or stopped.",
                                    param="desired_state") from None


class Deployment(Aggregate):
    TOPIC = "bitstride.serving.Deployment"

    @staticmethod
    def create_id(org_id: UUID, idempotency_key: str | None = None, **_: Any) -> UUID:
        if idempotency_key is None:
            return uuid4()
        return derived_id("deployment", str(org_id), idempotency_key)

    @event("Created", topic="bitstride.serving.Deployment.Created")
    def __init__(self, *, org_id: UUID, project_id: UUID | None, name: str | None, model: str,
                 backend: str, upstream_url: str | None, min_replicas: int, max_replicas: int,
                 metadata: dict[str, str], request_fingerprint: str, cause: Cause,
                 idempotency_key: str | None = None) -> None:
        self.org_id, self.project_id, self.name, self.model = org_id, project_id, name, model
        self.backend, self.upstream_url = backend, upstream_url
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.metadata = dict(metadata)
        self.request_fingerprint, self.idempotency_key = request_fingerprint, idempotency_key
        self.desired_state = DesiredState.RUNNING
        self.status = DeploymentStatus.CREATING
        self.replicas: dict[str, Replica] = {}
        self.error: dict[str, str] | None = None
        self.failed_at: float | None = None
        self.last_cause = cause

    @classmethod
    def create(cls, *, org_id: UUID, project_id: UUID | None, name: str | None, model: str,
               spec: ServingSpec, metadata: Mapping[str, str], request_fingerprint: str,
               cause: Cause) -> Deployment:
        """`model` is the public id of a servable model the application resolved; `spec`
        comes checked from domain.serving.spec."""
        return cls(org_id=org_id, project_id=project_id,
                   name=None if name is None else checked_name(name),
                   model=checked_name(model, param="model", max_length=MAX_MODEL_LENGTH),
                   backend=spec.backend, upstream_url=spec.upstream_url,
                   min_replicas=spec.min_replicas, max_replicas=spec.max_replicas,
                   metadata=checked_metadata(metadata), request_fingerprint=request_fingerprint,
                   cause=cause, idempotency_key=cause.idempotency_key)

    # -- queries ----------------------------------------------------------------------------

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status)

    @property
    def created_at(self) -> float:
        return self.created_on.timestamp()

    @property
    def ready_replicas(self) -> dict[str, str]:
        """Ready replicas' ids and the URLs they serve at, by id."""
        return {replica.id: replica.url or "" for replica in self._sorted()
                if replica.status is ReplicaStatus.READY}

    @property
    def live_replicas(self) -> tuple[str, ...]:
        """Ids of the replicas starting or ready: what the controller runs."""
        return tuple(replica.id for replica in self._sorted() if replica.live)

    @property
    def replicas_wanted(self) -> int:
        """How many replicas the controller should run now: `min_replicas` while running is
        wanted, 0 when stopped is wanted or the deployment failed."""
        return wanted(self.desired_state, self.status, self.min_replicas)

    @property
    def is_stopped(self) -> bool:
        """Stopped is wanted and nothing runs: nothing left to do until a start."""
        return self.status is DeploymentStatus.STOPPED

    @property
    def is_failed(self) -> bool:
        return self.status is DeploymentStatus.FAILED

    @property
    def is_routable(self) -> bool:
        """The gateway may send it requests: ready or updating with a ready replica."""
        return self.status in ROUTABLE and bool(self.ready_replicas)

    @property
    def is_settled(self) -> bool:
        """Nothing for the controller to start, stop or wait for: exactly `replicas_wanted`
        replicas live, none of them still starting."""
        live = [self.replicas[key] for key in self.live_replicas]
        return len(live) == self.replicas_wanted and all(
            replica.status is ReplicaStatus.READY for replica in live)

    def require_visible_to(self, org_id: UUID) -> None:
        if self.org_id != org_id:
            raise NotFoundError("No such deployment.")

    def _sorted(self) -> list[Replica]:
        return [self.replicas[key] for key in sorted(self.replicas)]

    def _derived(self, previous: DeploymentStatus, desired: DesiredState,
                 bounds: tuple[int, int], replicas: Mapping[str, Replica]
                 ) -> DeploymentStatus:
        ready = sum(r.status is ReplicaStatus.READY for r in replicas.values())
        live = sum(r.live for r in replicas.values())
        return derive(previous, desired, ready=ready, live=live, min_replicas=bounds[0],
                      max_replicas=bounds[1])

    # -- the caller's command -----------------------------------------------------------------

    def update(self, *, desired_state: str | None = None, min_replicas: int | None = None,
               max_replicas: int | None = None, cause: Cause) -> bool:
        """Change the desired state and/or the replica bounds; False when nothing changes.

        A change of desired state is a `start` or a `stop`; `running` asked of a failed
        deployment is a `start` too (the retry); a change of bounds alone is an `update`.
        """
        desired = self.desired_state if desired_state is None else checked_desired_state(
            desired_state)
        bounds = checked_bounds(min_replicas, max_replicas,
                                current=(self.min_replicas, self.max_replicas))
        if desired is not self.desired_state:
            action = "start" if desired is DesiredState.RUNNING else "stop"
        elif desired_state is not None and desired is DesiredState.RUNNING and self.is_failed:
            action = "start"
        elif bounds != (self.min_replicas, self.max_replicas):
            action = "update"
        else:
            return False
        require(self.status, action)
        previous = DeploymentStatus.CREATING if action == "start" else self.status
        status = self._derived(previous, desired, bounds, self.replicas)
        record = {"start": self._start_requested, "stop": self._stop_requested,
                  "update": self._updated}[action]
        record(min_replicas=bounds[0], max_replicas=bounds[1], status=status.value,
               cause=cause)
        return True

    @event("Updated", topic="bitstride.serving.Deployment.Updated")
    def _updated(self, min_replicas: int, max_replicas: int, status: str,
                 cause: Cause) -> None:
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.status, self.last_cause = DeploymentStatus(status), cause

    @event("StartRequested", topic="bitstride.serving.Deployment.StartRequested")
    def _start_requested(self, min_replicas: int, max_replicas: int, status: str,
                         cause: Cause) -> None:
        self.desired_state = DesiredState.RUNNING
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.error, self.failed_at = None, None
        self.status, self.last_cause = DeploymentStatus(status), cause

    @event("StopRequested", topic="bitstride.serving.Deployment.StopRequested")
    def _stop_requested(self, min_replicas: int, max_replicas: int, status: str,
                        cause: Cause) -> None:
        self.desired_state = DesiredState.STOPPED
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.status, self.last_cause = DeploymentStatus(status), cause

    # -- the controller's commands: repeats and late reports change nothing (False) ----------

    def _status_with(self, replica: Replica) -> DeploymentStatus:
        require(self.status, "replica_report")
        replicas = {**self.replicas, replica.id: replica}
        return self._derived(self.status, self.desired_state,
                             (self.min_replicas, self.max_replicas), replicas)

    def _put(self, replica: Replica | None, status: str, cause: Cause) -> None:
        if replica is not None:  # always: the command decided it moves forward
            self.replicas[replica.id] = replica
        self.status, self.last_cause = DeploymentStatus(status), cause

    def replica_starting(self, replica_id: str, at: float, cause: Cause) -> bool:
        replica_id, at = checked_replica_id(replica_id), checked_at(at)
        after = rules.starting(self.replicas.get(replica_id), replica_id, at)
        if after is None:
            return False
        self._replica_starting(replica_id=replica_id, at=at,
                               status=self._status_with(after).value, cause=cause)
        return True

    @event("ReplicaStarting", topic="bitstride.serving.Deployment.ReplicaStarting")
    def _replica_starting(self, replica_id: str, at: float, status: str,
                          cause: Cause) -> None:
        self._put(rules.starting(self.replicas.get(replica_id), replica_id, at), status, cause)

    def replica_ready(self, replica_id: str, url: str, at: float, cause: Cause) -> bool:
        replica_id, at = checked_replica_id(replica_id), checked_at(at)
        url = checked_url(url, param="url")
        after = rules.ready(self.replicas.get(replica_id), replica_id, url, at)
        if after is None:
            return False
        self._replica_ready(replica_id=replica_id, url=url, at=at,
                            status=self._status_with(after).value, cause=cause)
        return True

    @event("ReplicaReady", topic="bitstride.serving.Deployment.ReplicaReady")
    def _replica_ready(self, replica_id: str, url: str, at: float, status: str,
                       cause: Cause) -> None:
        self._put(rules.ready(self.replicas.get(replica_id), replica_id, url, at), status,
                  cause)

    def replica_failed(self, replica_id: str, reason: str, at: float, cause: Cause) -> bool:
        replica_id, at = checked_replica_id(replica_id), checked_at(at)
        reason = checked_reason(reason)
        after = rules.failed(self.replicas.get(replica_id), replica_id, reason, at)
        if after is None:
            return False
        self._replica_failed(replica_id=replica_id, reason=reason, at=at,
                             status=self._status_with(after).value, cause=cause)
        return True

    @event("ReplicaFailed", topic="bitstride.serving.Deployment.ReplicaFailed")
    def _replica_failed(self, replica_id: str, reason: str, at: float, status: str,
                        cause: Cause) -> None:
        self._put(rules.failed(self.replicas.get(replica_id), replica_id, reason, at), status,
                  cause)

    def replica_stopped(self, replica_id: str, at: float, cause: Cause) -> bool:
        replica_id, at = checked_replica_id(replica_id), checked_at(at)
        current = self.replicas.get(replica_id)
        after = rules.stopped(current, replica_id, at)
        if after is None:
            return False
        self._replica_stopped(replica_id=replica_id, at=at,
                              replica_seconds=rules.replica_seconds(current, at),
                              status=self._status_with(after).value, cause=cause)
        return True

    @event("ReplicaStopped", topic="bitstride.serving.Deployment.ReplicaStopped")
    def _replica_stopped(self, replica_id: str, at: float, replica_seconds: float,
                         status: str, cause: Cause) -> None:
        self._put(rules.stopped(self.replicas.get(replica_id), replica_id, at), status, cause)

    def fail(self, error: Mapping[str, Any], at: float, cause: Cause) -> bool:
        """The deployment as a whole cannot be served (say, its upstream never became
        healthy). Ignored when it already failed or stopped is wanted."""
        checked, at = checked_error(error), checked_at(at)
        if self.is_failed or self.desired_state is DesiredState.STOPPED:
            return False
        require(self.status, "fail")
        self._failed(error=checked, at=at, cause=cause)
        return True

    @event("Failed", topic="bitstride.serving.Deployment.Failed")
    def _failed(self, error: dict[str, str], at: float, cause: Cause) -> None:
        self.status, self.error, self.failed_at = DeploymentStatus.FAILED, dict(error), at
        self.last_cause = cause
