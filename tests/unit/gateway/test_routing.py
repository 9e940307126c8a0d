"""The routing table built from routable deployments, and the order replicas are tried in."""

from __future__ import annotations

from collections import Counter
from typing import Any

from interfaces.http.gateway.routing import (
    ReplicaBalancer,
    Target,
    build_snapshot,
    order_targets,
)
from projections.serving.queries import Route

ORG, OTHER_ORG = "a" * 32, "b" * 32
BASE, OWN = "1" * 32, "2" * 32
PROJECT, OTHER_PROJECT = "c" * 32, "d" * 32


def model_row(model_id: str, name: str, kind: str, org_id: str | None) -> dict[str, Any]:
    return {"id": model_id, "name": name, "kind": kind, "org_id": org_id, "created_at": 100}


MODELS = {BASE: model_row(BASE, "reference-byte-lm", "base", None),
          OWN: model_row(OWN, "Reference-Byte-LM", "fine_tuned", ORG)}


def route(dep: str, org: str, model: str, *urls: str, project: str | None = None) -> Route:
    return Route(deployment_id=dep * 32, org_id=org, project_id=project,
                 model=f"model_{model}", status="ready", urls=urls)


def test_routes_by_id_and_name_within_the_organization() -> None:
    snapshot = build_snapshot([route("e", ORG, BASE, "http://r1/v1", "http://r2/v1"),
                               route("f", ORG, BASE, "http://r3/v1")], MODELS)
    found = snapshot.lookup(ORG, "reference-byte-lm")
    assert found is not None and found.name == "reference-byte-lm"
    assert [t.url for t in found.targets] == ["http://r1/v1", "http://r2/v1", "http://r3/v1"]
    assert snapshot.lookup(ORG, f"model_{BASE}") is found
    assert snapshot.lookup(ORG, "REFERENCE-byte-lm") is found  # names are case-insensitive
    assert snapshot.lookup(OTHER_ORG, "reference-byte-lm") is None  # deployed by ORG only
    assert snapshot.lookup(ORG, "nope") is None
    assert {(d.deployment_id, d.model, d.ready_replicas) for d in snapshot.deployments} == {
        ("dep_" + "e" * 32, "reference-byte-lm", 2), ("dep_" + "f" * 32, "reference-byte-lm", 1)}
    assert found.owned_by == "bitstride"


def test_the_organizations_own_model_wins_a_shared_name() -> None:
    snapshot = build_snapshot([route("e", ORG, BASE, "http://base/v1"),
                               route("f", ORG, OWN, "http://own/v1")], MODELS)
    found = snapshot.lookup(ORG, "reference-byte-lm")
    assert found is not None and found.model_id == f"model_{OWN}"
    assert found.owned_by == f"org_{ORG}"
    base = snapshot.lookup(ORG, f"model_{BASE}")
    assert base is not None and base.name == "reference-byte-lm"


def test_a_deployment_whose_model_is_unknown_is_left_out() -> None:
    snapshot = build_snapshot([route("e", ORG, "9" * 32, "http://r/v1")], MODELS)
    assert snapshot.lookup(ORG, f"model_{'9' * 32}") is None
    assert snapshot.deployments == ()


def test_a_project_key_reaches_its_project_and_unowned_deployments() -> None:
    snapshot = build_snapshot([
        route("e", ORG, BASE, "http://mine/v1", project=PROJECT),
        route("f", ORG, BASE, "http://theirs/v1", project=OTHER_PROJECT),
        route("0", ORG, BASE, "http://shared/v1")], MODELS)
    found = snapshot.lookup(ORG, "reference-byte-lm")
    assert found is not None
    assert {t.url for t in found.reachable(PROJECT)} == {"http://mine/v1", "http://shared/v1"}
    assert len(found.reachable(None)) == 3
    only_theirs = build_snapshot([route("f", ORG, BASE, "http://theirs/v1",
                                        project=OTHER_PROJECT)], MODELS)
    assert only_theirs.models_of(ORG, PROJECT) == []
    assert [r.name for r in only_theirs.models_of(ORG, OTHER_PROJECT)] == ["reference-byte-lm"]
    assert [r.name for r in only_theirs.models_of(ORG, None)] == ["reference-byte-lm"]


TARGETS = [Target("dep_1", None, f"http://r{i}/v1") for i in range(3)]


def test_an_even_load_goes_round_robin() -> None:
    firsts = [order_targets(TARGETS, {}, (), turn)[0].url for turn in range(6)]
    assert firsts == ["http://r0/v1", "http://r1/v1", "http://r2/v1"] * 2


def test_least_in_flight_first_then_the_rotation() -> None:
    busy = {"http://r0/v1": 2, "http://r1/v1": 1}
    assert [t.url for t in order_targets(TARGETS, busy, (), 0)] == [
        "http://r2/v1", "http://r1/v1", "http://r0/v1"]
    even = {"http://r0/v1": 1, "http://r1/v1": 1}
    assert [t.url for t in order_targets(TARGETS, even, (), 1)] == [
        "http://r2/v1", "http://r1/v1", "http://r0/v1"]


def test_ejected_replicas_come_last_but_stay_in_the_list() -> None:
    order = order_targets(TARGETS, {}, {"http://r0/v1"}, 0)
    assert [t.url for t in order] == ["http://r1/v1", "http://r2/v1", "http://r0/v1"]
    assert order_targets([], {}, (), 5) == []


def test_the_balancer_ejects_for_a_while_and_counts_in_flight() -> None:
    now = [0.0]
    balancer = ReplicaBalancer(eject_seconds=5.0, clock=lambda: now[0])
    balancer.eject("http://r1/v1")
    seen = Counter(balancer.order(TARGETS)[0].url for _ in range(30))
    assert "http://r1/v1" not in seen and set(seen) == {"http://r0/v1", "http://r2/v1"}
    now[0] = 6.0
    seen = Counter(balancer.order(TARGETS)[0].url for _ in range(30))
    assert seen["http://r1/v1"] == 10  # back in the rotation
    balancer.acquire("http://r0/v1")
    balancer.acquire("http://r2/v1")
    assert balancer.order(TARGETS)[0].url == "http://r1/v1"
    balancer.release("http://r0/v1")
    balancer.release("http://r2/v1")
    assert balancer.in_flight == {}
