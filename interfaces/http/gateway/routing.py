"""The gateway's routing table: which replicas serve which model, held in memory.

**What it holds.** Every routable deployment (status `ready` or `updating` with at least one
ready replica: `DeploymentQueries.routable()`), joined with its model's name (the models read
model), keyed by `(organization, model id)` and `(organization, lower-cased model name)`. A
request's `model` is a model's id (`model_…`) or its name, as OpenAI's API accepts either;
when an organization's own model and a base model share a name, its own wins (as
`ModelQueries.model_by_name`). Several deployments of one model pool their replicas.

**Who reaches what.** A deployment belongs to its organization: another organization's model,
even a base model it deployed too, has no route for the caller (404 `model_not_found`). A key
restricted to a project reaches its project's deployments and the organization's deployments
that belong to no project; user tokens and keys without a project reach all of them.

**Refresh.** One daemon thread per process loads a new snapshot and swaps it in (one attribute
assignment: requests read whatever snapshot is current, never a lock, never a query). It loads
when the deployments or models projection commits (the plane's `tracking_signal.watch`, in
this process or, with Postgres, in a worker by NOTIFY; other projections' commits do not wake
it) and at least every REFRESH_SECONDS as a safety net (another process writing SQLite sends
no signal). A burst of commits is coalesced: loads are at least
MIN_INTERVAL_SECONDS apart. A failed load keeps the last snapshot and is retried.

**Choosing a replica** (`order_targets`, pure): least in-flight requests first, ties broken by
a rotating start (round robin when the load is even), replicas that refused a connection in the
last EJECT_SECONDS last. The caller tries them in that order, failing over only while nothing
has been sent to its client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from domain.catalog.values import ID_LIKE
from domain.shared.ids import format_id
from projections.models.queries import ModelQueries
from projections.serving.queries import DeploymentQueries, Route
from projections.signal import ChangeSignal

log = structlog.get_logger("bitstride.gateway.routing")

REFRESH_SECONDS = 1.0
MIN_INTERVAL_SECONDS = 0.02
EJECT_SECONDS = 5.0


@dataclass(frozen=True)
class Target:
    """One ready replica of one deployment: where to send a request."""

    deployment_id: str  # dep_…
    project_id: str | None  # hex, as the read model holds it
    url: str  # the replica's OpenAI base URL (`…/v1`)


@dataclass(frozen=True)
class ModelRoute:
    """A model an organization serves, and every ready replica serving it."""

    org_id: str  # hex
    model_id: str  # model_…
    name: str  # what the replicas serve: the `model` sent upstream
    kind: str  # "base" or the organization's own
    created_at: int
    targets: tuple[Target, ...]

    def reachable(self, project_id: str | None) -> tuple[Target, ...]:
        """The replicas a caller restricted to `project_id` (hex; None: not restricted) may use:
        its project's deployments and those of no project."""
        if project_id is None:
            return self.targets
        return tuple(target for target in self.targets
                     if target.project_id is None or target.project_id == project_id)

    @property
    def owned_by(self) -> str:
        return "bitstride" if self.kind == "base" else format_id("org", UUID(hex=self.org_id))


@dataclass(frozen=True)
class DeploymentRoute:
    """For readiness: a routable deployment and how many replicas it has ready."""

    deployment_id: str  # dep_…
    model: str  # the model's name
    ready_replicas: int


@dataclass(frozen=True)
class RoutingSnapshot:
    by_id: Mapping[tuple[str, str], ModelRoute] = field(default_factory=dict)
    by_name: Mapping[tuple[str, str], ModelRoute] = field(default_factory=dict)
    deployments: tuple[DeploymentRoute, ...] = ()

    def lookup(self, org_id: str, reference: str) -> ModelRoute | None:
        """The organization's (hex) route for a model id or name, or None."""
        if ID_LIKE.match(reference):
            return self.by_id.get((org_id, reference))
        return self.by_name.get((org_id, reference.lower()))

    def models_of(self, org_id: str, project_id: str | None) -> list[ModelRoute]:
        """The routes a caller of this organization (and project, if restricted) can reach,
        oldest model first."""
        routes = [route for (org, _), route in self.by_id.items()
                  if org == org_id and route.reachable(project_id)]
        return sorted(routes, key=lambda route: (route.created_at, route.model_id))


EMPTY = RoutingSnapshot()


def build_snapshot(routes: Sequence[Route], models: Mapping[str, Mapping[str, Any]]
                   ) -> RoutingSnapshot:
    """The table from the routable deployments (oldest first) and their models' rows (by hex
    id: `id`, `kind`, `name`, `created_at`). A deployment whose model has no row (deleted, or
    not projected yet) is left out: its name, what replicas serve, is unknown."""
    targets: dict[tuple[str, str], list[Target]] = {}
    deployments: list[DeploymentRoute] = []
    for route in routes:
        model = models.get(route.model.removeprefix("model_"))
        if model is None:
            continue
        deployment_id = format_id("dep", UUID(hex=route.deployment_id))
        targets.setdefault((route.org_id, route.model), []).extend(
            Target(deployment_id, route.project_id, url) for url in route.urls)
        deployments.append(DeploymentRoute(deployment_id, str(model["name"]), len(route.urls)))
    by_id: dict[tuple[str, str], ModelRoute] = {}
    by_name: dict[tuple[str, str], ModelRoute] = {}
    for (org_id, model_id), found in targets.items():
        model = models[model_id.removeprefix("model_")]
        route = ModelRoute(org_id=org_id, model_id=model_id, name=str(model["name"]),
                           kind=str(model["kind"]), created_at=int(model["created_at"]),
                           targets=tuple(found))
        by_id[(org_id, model_id)] = route
        key = (org_id, route.name.lower())
        taken = by_name.get(key)
        if taken is None or (taken.kind == "base" and route.kind != "base"):
            by_name[key] = route  # the organization's own model before a base model
    return RoutingSnapshot(by_id, by_name, tuple(deployments))


def order_targets(targets: Sequence[Target], in_flight: Mapping[str, int],
                  ejected: Iterable[str], turn: int) -> list[Target]:
    """The order to try `targets` in: least in flight first; among equals, the rotation
    starting at `turn` (so an even load goes round robin); recently refused replicas last."""
    if not targets:
        return []
    start = turn % len(targets)
    rotated = [*targets[start:], *targets[:start]]
    avoid = set(ejected)
    healthy = [target for target in rotated if target.url not in avoid]
    sick = [target for target in rotated if target.url in avoid]
    healthy.sort(key=lambda target: in_flight.get(target.url, 0))  # stable: keeps the rotation
    return healthy + sick


class ReplicaBalancer:
    """This process's view of its replicas: requests in flight to each, and the replicas that
    refused a connection lately. Used from the event loop only."""

    def __init__(self, *, eject_seconds: float = EJECT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.eject_seconds, self._clock = eject_seconds, clock
        self.in_flight: dict[str, int] = {}
        self._ejected: dict[str, float] = {}  # url -> until
        self._turn = 0

    def order(self, targets: Sequence[Target]) -> list[Target]:
        self._turn += 1
        now = self._clock()
        for url, until in list(self._ejected.items()):
            if until <= now:
                del self._ejected[url]
        return order_targets(targets, self.in_flight, self._ejected, self._turn)

    def acquire(self, url: str) -> None:
        self.in_flight[url] = self.in_flight.get(url, 0) + 1

    def release(self, url: str) -> None:
        left = self.in_flight.get(url, 0) - 1
        if left > 0:
            self.in_flight[url] = left
        else:
            self.in_flight.pop(url, None)

    def eject(self, url: str) -> None:
        """The replica refused a connection: try it last for a while."""
        self._ejected[url] = self._clock() + self.eject_seconds


class RoutingTable:
    """The current RoutingSnapshot, kept fresh by a background thread (see the module doc)."""

    def __init__(self, deployments: DeploymentQueries, models: ModelQueries,
                 signal: ChangeSignal, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._deployments, self._models, self._signal = deployments, models, signal
        self.refresh_seconds = refresh_seconds
        self.snapshot: RoutingSnapshot = EMPTY
        self.loaded_at: float | None = None  # monotonic time of the last successful load
        self.last_error: str | None = None
        self.loads = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    def refresh(self) -> RoutingSnapshot:
        """Load a new snapshot and swap it in (raises when the read model cannot be read)."""
        routes = self._deployments.routable()
        models = self._models.by_ids(route.model.removeprefix("model_") for route in routes)
        snapshot = build_snapshot(routes, models)
        self.snapshot, self.loaded_at, self.last_error = snapshot, time.monotonic(), None
        self.loads += 1
        return snapshot

    def try_refresh(self) -> bool:
        try:
            self.refresh()
        except Exception as error:  # a database hiccup: keep serving the last snapshot
            if self.last_error is None:
                log.warning("routing_refresh_failed", error_class=type(error).__name__)
            self.last_error = type(error).__name__
            return False
        return True

    def status(self) -> str:
        """For readiness: "ok" once loaded (a failed refresh since keeps the last table)."""
        if self.loaded:
            return "ok"
        return f"not loaded yet ({self.last_error})" if self.last_error else "not loaded yet"

    def start(self) -> None:
        """Start the refresh thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="bitstride-routing",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._signal.notify()  # spurious wake-ups are harmless to other waiters
        thread.join(5.0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            seen = self._signal.generation()
            self.try_refresh()
            self._signal.wait_after(seen, self.refresh_seconds)
            self._stopping.wait(MIN_INTERVAL_SECONDS)  # coalesce a burst of commits
