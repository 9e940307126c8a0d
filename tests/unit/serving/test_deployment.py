"""The Deployment aggregate's rules, without I/O."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.serving.deployment import Deployment
from domain.serving.replicas import ReplicaStatus
from domain.serving.spec import checked_spec
from domain.serving.status import DeploymentStatus, DesiredState
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError
from tests.unit.serving.factories import (
    UPSTREAM,
    new_deployment,
    ready_deployment,
    replayed,
    state,
    url_of,
)

S = DeploymentStatus
ERROR = {"code": "upstream_unhealthy", "message": "The upstream never answered /health."}


def names(events: list[Any]) -> list[str]:
    return [type(event).__name__ for event in events]


def test_a_deployment_is_created_running_and_becomes_ready() -> None:
    deployment = new_deployment(min_replicas=2, max_replicas=3)
    assert (deployment.status, deployment.desired_state) == (S.CREATING, DesiredState.RUNNING)
    assert (deployment.allowed_actions, deployment.replicas_wanted) == (("update", "stop"), 2)
    assert (deployment.backend, deployment.upstream_url, deployment.name) == (
        "upstream", UPSTREAM, "chat")
    assert deployment.replica_starting("r0", 1.0, SYSTEM)
    assert not deployment.is_settled  # r0 is still starting
    assert deployment.replica_ready("r0", url_of("r0"), 2.0, SYSTEM)
    assert deployment.status is S.CREATING  # one of two
    assert not deployment.is_routable and not deployment.is_settled
    assert deployment.replica_ready("r1", url_of("r1"), 3.0, SYSTEM)  # its start never arrived
    assert deployment.status is S.READY
    assert deployment.ready_replicas == {"r0": url_of("r0"), "r1": url_of("r1")}
    assert deployment.live_replicas == ("r0", "r1")
    assert deployment.replicas["r1"].started_at == 3.0
    assert deployment.is_routable and deployment.is_settled
    assert state(replayed(deployment.collect_events())) == state(deployment)


def test_create_defaults_and_checks() -> None:
    spec = checked_spec(backend="reference", upstream_url=None, min_replicas=None,
                        max_replicas=None)
    assert (spec.min_replicas, spec.max_replicas, spec.upstream_url) == (1, 1, None)
    assert checked_spec(backend="reference", upstream_url=None, min_replicas=3,
                        max_replicas=None).max_replicas == 3
    assert checked_spec(backend="reference", upstream_url=None, min_replicas=None,
                        max_replicas=4).min_replicas == 1


@pytest.mark.parametrize(("fields", "param"), [
    ({"backend": "vllm"}, "backend"),
    ({"upstream_url": None}, "upstream_url"),
    ({"upstream_url": "ftp://host/x"}, "upstream_url"),
    ({"upstream_url": "http://"}, "upstream_url"),
    ({"upstream_url": "not a url"}, "upstream_url"),
    ({"upstream_url": "http://user:secret@host/v1"}, "upstream_url"),
    ({"upstream_url": "http://host:99999/v1"}, "upstream_url"),
    ({"backend": "reference", "upstream_url": "http://host/v1"}, "upstream_url"),
    ({"min_replicas": 0}, "min_replicas"),
    ({"min_replicas": True}, "min_replicas"),
    ({"max_replicas": 9}, "max_replicas"),
    ({"min_replicas": 3, "max_replicas": 2}, "min_replicas"),
])
def test_a_bad_spec_names_its_param(fields: dict[str, Any], param: str) -> None:
    values: dict[str, Any] = {"backend": "upstream", "upstream_url": "https://up.example/v1",
                              "min_replicas": None, "max_replicas": None, **fields}
    with pytest.raises(ValidationFailedError) as raised:
        checked_spec(**values)
    assert raised.value.param == param


def test_losing_a_ready_replica_is_updating_until_replaced() -> None:
    deployment = ready_deployment(2)
    assert deployment.replica_failed("r0", "exited with 137", 30.0, SYSTEM)
    assert deployment.status is S.UPDATING and deployment.is_routable
    assert deployment.replicas["r0"].reason == "exited with 137"
    assert deployment.replica_starting("r2", 31.0, SYSTEM)
    assert deployment.status is S.UPDATING
    assert deployment.replica_ready("r2", url_of("r2"), 32.0, SYSTEM)
    assert deployment.status is S.READY
    assert deployment.ready_replicas == {"r1": url_of("r1"), "r2": url_of("r2")}


def test_duplicate_reordered_and_late_reports_change_nothing() -> None:
    deployment = ready_deployment(1)
    deployment.collect_events()
    assert not deployment.replica_starting("r0", 10.0, SYSTEM)  # a repeat
    assert not deployment.replica_ready("r0", url_of("r0"), 20.0, SYSTEM)
    assert not deployment.replica_ready("r0", "http://elsewhere/v1", 21.0, SYSTEM)
    assert deployment.replica_stopped("r0", 50.0, SYSTEM)
    assert not deployment.replica_failed("r0", "late", 49.0, SYSTEM)  # it stopped: late news
    assert not deployment.replica_ready("r0", url_of("r0"), 48.0, SYSTEM)
    assert not deployment.replica_stopped("r0", 51.0, SYSTEM)
    assert names(deployment.collect_events()) == ["ReplicaStopped"]
    assert deployment.replicas["r0"].status is ReplicaStatus.STOPPED


def test_an_update_that_changes_nothing_records_nothing() -> None:
    deployment = ready_deployment(1)
    deployment.collect_events()
    assert not deployment.update(cause=SYSTEM)
    assert not deployment.update(desired_state="running", min_replicas=1, max_replicas=1,
                                 cause=SYSTEM)
    assert deployment.collect_events() == []


def test_scaling_up_then_down() -> None:
    deployment = ready_deployment(1)
    assert deployment.update(min_replicas=2, max_replicas=2, cause=SYSTEM)
    assert (deployment.status, deployment.replicas_wanted) == (S.UPDATING, 2)
    deployment.replica_ready("r1", url_of("r1"), 40.0, SYSTEM)
    assert deployment.status is S.READY
    assert deployment.update(min_replicas=1, cause=SYSTEM)
    assert (deployment.status, deployment.is_settled) == (S.READY, False)  # one too many
    assert deployment.update(max_replicas=1, cause=SYSTEM)
    assert deployment.status is S.UPDATING  # two live, at most one wanted
    deployment.replica_stopped("r1", 50.0, SYSTEM)
    assert deployment.status is S.READY
    assert deployment.is_settled
    assert names(deployment.collect_events())[-4:] == [
        "ReplicaReady", "Updated", "Updated", "ReplicaStopped"]
    assert deployment.update(max_replicas=3, cause=SYSTEM)
    assert deployment.status is S.READY  # nothing to carry out


def test_update_bounds_are_checked_against_the_current_ones() -> None:
    deployment = new_deployment(min_replicas=2, max_replicas=3)
    with pytest.raises(ValidationFailedError) as raised:
        deployment.update(min_replicas=4, cause=SYSTEM)
    assert raised.value.param == "min_replicas"
    with pytest.raises(ValidationFailedError) as raised:
        deployment.update(max_replicas=1, cause=SYSTEM)
    assert raised.value.param == "max_replicas"
    with pytest.raises(ValidationFailedError) as raised:
        deployment.update(desired_state="paused", cause=SYSTEM)
    assert raised.value.param == "desired_state"
    assert (deployment.min_replicas, deployment.max_replicas) == (2, 3)


def test_stop_then_start_and_replica_seconds() -> None:
    deployment = ready_deployment(2)
    assert deployment.update(desired_state="stopped", cause=SYSTEM)
    assert (deployment.status, deployment.replicas_wanted) == (S.STOPPING, 0)
    assert deployment.allowed_actions == ("update",)
    with pytest.raises(InvalidStateTransitionError) as raised:
        deployment.update(desired_state="running", cause=SYSTEM)
    assert (raised.value.state, raised.value.allowed_actions) == ("stopping", ("update",))
    assert deployment.update(min_replicas=2, max_replicas=4, cause=SYSTEM)  # allowed
    assert deployment.status is S.STOPPING
    deployment.replica_stopped("r0", 110.0, SYSTEM)
    assert deployment.status is S.STOPPING
    deployment.replica_stopped("r1", 111.0, SYSTEM)
    assert (deployment.status, deployment.allowed_actions) == (S.STOPPED, ("update", "start"))
    assert deployment.is_stopped and deployment.is_settled and not deployment.is_routable
    events = deployment.collect_events()
    seconds = [e.replica_seconds for e in events if type(e).__name__ == "ReplicaStopped"]
    assert seconds == [100.0, 100.0]  # started at 10.0 and 11.0
    assert deployment.update(desired_state="running", cause=SYSTEM)
    assert (deployment.status, deployment.replicas_wanted) == (S.CREATING, 2)
    assert names(deployment.collect_events()) == ["StartRequested"]


def test_a_replica_reported_after_the_stop_keeps_it_stopping() -> None:
    deployment = new_deployment()
    deployment.update(desired_state="stopped", cause=SYSTEM)
    assert deployment.status is S.STOPPED
    assert deployment.replica_starting("r0", 5.0, SYSTEM)  # started before the stop was seen
    assert deployment.status is S.STOPPING
    assert deployment.replica_stopped("r0", 6.0, SYSTEM)
    assert deployment.status is S.STOPPED


def test_a_failed_deployment_stays_failed_until_started_again() -> None:
    deployment = ready_deployment(1)
    assert deployment.fail(ERROR, 60.0, SYSTEM)
    assert (deployment.status, deployment.error, deployment.failed_at) == (S.FAILED, ERROR, 60.0)
    assert (deployment.replicas_wanted, deployment.is_routable) == (0, False)
    assert deployment.allowed_actions == ("update", "stop", "start")
    assert not deployment.fail({"code": "other", "message": "again"}, 61.0, SYSTEM)
    assert deployment.replica_ready("r9", url_of("r9"), 62.0, SYSTEM)
    assert deployment.status is S.FAILED
    assert deployment.update(min_replicas=1, max_replicas=2, cause=SYSTEM)
    assert deployment.status is S.FAILED
    assert deployment.update(desired_state="running", cause=SYSTEM)  # the retry
    assert (deployment.status, deployment.error, deployment.failed_at) == (S.READY, None, None)
    assert state(replayed(deployment.collect_events())) == state(deployment)


def test_fail_is_ignored_when_stopped_is_wanted() -> None:
    deployment = ready_deployment(1)
    deployment.update(desired_state="stopped", cause=SYSTEM)
    assert not deployment.fail(ERROR, 70.0, SYSTEM)
    assert deployment.status is S.STOPPING
    failed = new_deployment()
    failed.fail(ERROR, 1.0, SYSTEM)
    assert failed.update(desired_state="stopped", cause=SYSTEM)
    assert (failed.status, failed.error) == (S.STOPPED, ERROR)  # the last failure stays shown


@pytest.mark.parametrize(("command", "param"), [
    (lambda d: d.replica_starting("", 1.0, SYSTEM), "replica_id"),
    (lambda d: d.replica_starting("r0", float("nan"), SYSTEM), "at"),
    (lambda d: d.replica_ready("r0", "file:///tmp/x", 1.0, SYSTEM), "url"),
    (lambda d: d.replica_failed("r0", " ", 1.0, SYSTEM), "reason"),
    (lambda d: d.fail({"code": "Not Snake", "message": "x"}, 1.0, SYSTEM), "error.code"),
    (lambda d: d.fail({"code": "x"}, 1.0, SYSTEM), "error.message"),
])
def test_malformed_controller_reports_are_refused(command: Any, param: str) -> None:
    deployment = new_deployment()
    deployment.collect_events()
    with pytest.raises(ValidationFailedError) as raised:
        command(deployment)
    assert raised.value.param == param
    assert deployment.collect_events() == []


def test_idempotency_key_derives_the_id() -> None:
    org = uuid4()
    assert Deployment.create_id(org, "k") == Deployment.create_id(org, "k")
    assert Deployment.create_id(org, "k") != Deployment.create_id(uuid4(), "k")
    assert Deployment.create_id(org) != Deployment.create_id(org)
