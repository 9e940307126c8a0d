"""The deployment controller against an in-memory DeploymentService, pumped by hand.

`pump` feeds every new Serving notification to the controller the way the worker's Runner
does; the backend is a fake the test plays (the reference backend runs in the e2e test).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from application.serving.backend import (
    BackendRefusedError,
    ProbeState,
    ReplicaProbe,
    ReplicaSpec,
    ServedWeights,
)
from application.serving.controller import ControllerSettings, DeploymentController
from application.serving.ports import ServableModel
from application.serving.service import DeploymentService, NewDeployment
from application.usage.service import UsageService
from domain.serving.deployment import Deployment
from domain.serving.status import DeploymentStatus
from domain.shared.cause import Cause

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
CAUSE = Cause(actor_id="user_test")
MODEL = "model_" + "a" * 32


class Models:
    def servable(self, org_id: UUID, model: str) -> ServableModel:
        return ServableModel(MODEL, "ft:reference-byte-lm:x", True)

    def weights_of(self, org_id: UUID, model: str) -> ServedWeights:
        return ServedWeights("ft:reference-byte-lm:x", "reference-byte-lm", "object://w")


@dataclass
class FakeBackend:
    """Replicas by id and what a probe says of each; the test moves them along."""

    states: dict[str, ProbeState] = field(default_factory=dict)
    started: list[ReplicaSpec] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    refuse: bool = False

    def start(self, replica: ReplicaSpec) -> None:
        if self.refuse:
            raise BackendRefusedError("unsupported_model", "Not here.")
        if replica.replica_id not in self.states:
            self.started.append(replica)
            self.states[replica.replica_id] = ProbeState.STARTING

    def probe(self, replica_id: str) -> ReplicaProbe:
        state = self.states.get(replica_id, ProbeState.GONE)
        return ReplicaProbe(state, url=f"http://{replica_id}/v1" if state is ProbeState.READY
                            else None, reason="boom" if state is ProbeState.FAILED else None)

    def stop(self, replica_id: str) -> None:
        if self.states.pop(replica_id, None) is not None:
            self.stopped.append(replica_id)

    def ready_all(self) -> None:
        for replica_id, state in self.states.items():
            if state is ProbeState.STARTING:
                self.states[replica_id] = ProbeState.READY


class Harness:
    def __init__(self) -> None:
        self.serving = DeploymentService(env=POPO, models=Models())
        self.usage = UsageService(env=POPO)
        self.backend = FakeBackend()
        self.now = time.time()
        self.controller = self.new_controller()
        self.org = uuid4()
        self.position = 0

    def new_controller(self) -> DeploymentController:
        return DeploymentController(
            self.serving, {"reference": self.backend}, POPOTrackingRecorder(),
            models=Models(), usage=self.usage,
            settings=ControllerSettings(ready_timeout_seconds=30, max_consecutive_failures=3),
            clock=lambda: self.now)

    def create(self, replicas: int = 2) -> UUID:
        return self.serving.create_deployment(self.org, NewDeployment(
            model=MODEL, backend="reference", min_replicas=replicas),
            request_fingerprint="f", cause=CAUSE).aggregate.id

    def pump(self) -> None:
        while batch := list(self.serving.recorder.select_notifications(self.position + 1, 100)):
            for notification in batch:
                event = self.serving.mapper.to_domain_event(notification)
                self.controller.process_event(event, Tracking(self.serving.name, notification.id))
                self.position = notification.id

    def cycle(self) -> None:
        """One tick of the worker, then everything it caused."""
        self.controller.tick()
        self.pump()

    def deployment(self, deployment_id: UUID) -> Deployment:
        found = self.serving.get_or_none(deployment_id)
        assert isinstance(found, Deployment)
        return found

    def billed(self) -> dict[str, int]:
        records = [self.usage.repository.get(self.usage.mapper.to_domain_event(n).originator_id)
                   for n in self.usage.recorder.select_notifications(1, 1000)]
        return {record.source_id: record.quantity for record in records}


def test_replicas_start_become_ready_and_the_deployment_is_ready() -> None:
    h = Harness()
    deployment_id = h.create(replicas=2)
    h.pump()
    assert len(h.backend.started) == 2
    assert h.deployment(deployment_id).status is DeploymentStatus.CREATING
    h.backend.ready_all()
    h.cycle()
    deployment = h.deployment(deployment_id)
    assert deployment.status is DeploymentStatus.READY
    assert sorted(deployment.ready_replicas.values()) == sorted(
        f"http://{spec.replica_id}/v1" for spec in h.backend.started)
    assert {spec.model_name for spec in h.backend.started} == {"ft:reference-byte-lm:x"}


def test_a_crashed_replica_is_replaced_and_a_stop_bills_replica_seconds() -> None:
    h = Harness()
    deployment_id = h.create(replicas=1)
    h.pump()
    h.backend.ready_all()
    h.cycle()
    [first] = h.deployment(deployment_id).live_replicas
    h.backend.states[first] = ProbeState.FAILED
    h.now += 5
    h.cycle()
    deployment = h.deployment(deployment_id)
    assert deployment.replicas[first].failed_at is not None
    assert deployment.replicas[first].status.value == "stopped"  # and billed
    [second] = deployment.live_replicas
    assert second != first and deployment.status is DeploymentStatus.UPDATING
    h.backend.ready_all()
    h.cycle()
    assert h.deployment(deployment_id).status is DeploymentStatus.READY

    h.now += 100
    h.serving.update_deployment(h.org, deployment_id, expected_version=None,
                                desired_state="stopped", cause=CAUSE)
    h.pump()
    assert h.deployment(deployment_id).status is DeploymentStatus.STOPPED
    assert h.backend.stopped[-1] == second
    assert h.billed() == {f"dep_{deployment_id.hex}:{first}": 5,
                          f"dep_{deployment_id.hex}:{second}": 100}


def test_a_replica_that_never_gets_healthy_fails_and_a_crash_loop_fails_the_deployment() -> None:
    h = Harness()
    deployment_id = h.create(replicas=1)
    h.pump()
    for _ in range(3):
        h.now += 31  # past the ready timeout: failed, stopped, replaced
        h.cycle()
    deployment = h.deployment(deployment_id)
    assert deployment.status is DeploymentStatus.FAILED
    assert deployment.error is not None and deployment.error["code"] == "crash_loop"
    assert deployment.live_replicas == () and len(h.backend.started) == 3
    assert h.backend.states == {}


def test_a_backend_refusal_fails_the_deployment_with_its_code() -> None:
    h = Harness()
    h.backend.refuse = True
    deployment_id = h.create()
    h.pump()
    deployment = h.deployment(deployment_id)
    assert deployment.status is DeploymentStatus.FAILED
    assert deployment.error is not None and deployment.error["code"] == "unsupported_model"


def test_after_a_restart_running_replicas_are_probed_and_lost_ones_replaced() -> None:
    h = Harness()
    deployment_id = h.create(replicas=2)
    h.pump()
    h.backend.ready_all()
    h.cycle()
    kept, lost = h.deployment(deployment_id).live_replicas
    del h.backend.states[lost]  # its process died with the old worker
    h.controller = h.new_controller()  # a new worker: nothing in memory, position kept
    h.cycle()
    deployment = h.deployment(deployment_id)
    assert deployment.replicas[lost].failed_at is not None
    assert kept in deployment.live_replicas and len(deployment.live_replicas) == 2


def test_scaling_down_stops_not_yet_ready_replicas_first() -> None:
    h = Harness()
    deployment_id = h.create(replicas=2)
    h.pump()
    first, second = h.deployment(deployment_id).live_replicas
    h.backend.states[first] = ProbeState.READY
    h.cycle()
    h.serving.update_deployment(h.org, deployment_id, expected_version=None, min_replicas=1,
                                max_replicas=1, cause=CAUSE)
    h.pump()
    assert h.backend.stopped == [second]
    assert h.deployment(deployment_id).live_replicas == (first,)


