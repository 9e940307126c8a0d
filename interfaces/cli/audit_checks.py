"""What `bitstride audit verify` checks beyond the chain: every aggregate replays from its
log, and matches its read-model row.

Rows are looked up by primary key in the projection's live generation, deleted objects
included (the list/get queries hide those). An aggregate whose projection has not yet applied
its last event is counted as pending, not as a mismatch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import MetaData, Table, select

from application.audit.history import replayed
from application.shared.base import BitstrideApplication
from domain.billing.invoice import Invoice
from domain.billing.price_book import PriceBook
from domain.catalog.model import Model
from domain.catalog.name_claim import ModelNameClaim
from domain.datasets.dataset import Dataset
from domain.serving.deployment import Deployment
from domain.tenancy.name_claim import ProjectNameClaim
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project
from domain.training.job import TrainingJob
from domain.usage.record import UsageRecord
from infra.chain.links import ChainedRecorder
from infra.chain.verify import Walk
from interfaces.control_plane import ControlPlane
from projections.billing.projection import PROJECTION_NAME as INVOICES
from projections.billing.tables import invoices_table
from projections.datasets.projection import PROJECTION_NAME as DATASETS
from projections.datasets.tables import datasets_table
from projections.models.projection import PROJECTION_NAME as MODELS
from projections.models.tables import models_table
from projections.serving.projection import PROJECTION_NAME as DEPLOYMENTS
from projections.serving.tables import deployments_table
from projections.tenancy.projection import PROJECTION_NAME as TENANCY
from projections.tenancy.tables import tenancy_tables
from projections.training.projection import PROJECTION_NAME as TRAINING
from projections.training.tables import training_tables
from projections.usage.projection import PROJECTION_NAME as USAGE
from projections.usage.tables import usage_tables


def _version(aggregate: Any) -> int:
    return int(aggregate.version)


def _status(aggregate: Any) -> str:
    return str(aggregate.status)


@dataclass(frozen=True)
class RowRule:
    """Where an aggregate type's row lives and which of its columns must match."""

    projection: str
    table: Callable[[int], Table]  # the table of one generation
    columns: Mapping[str, Callable[[Any], Any]]


RULES: dict[type, RowRule] = {
    Organization: RowRule(TENANCY, lambda g: tenancy_tables(g).organizations,
                          {"version": _version, "state": lambda a: str(a.state)}),
    # A project row is marked deleted as soon as its organization is, before the policy
    # deletes the project itself: only the version must match.
    Project: RowRule(TENANCY, lambda g: tenancy_tables(g).projects, {"version": _version}),
    Dataset: RowRule(DATASETS, lambda g: datasets_table(g, MetaData()),
                     {"version": _version, "status": _status}),
    Model: RowRule(MODELS, lambda g: models_table(g, MetaData()),
                   {"version": _version, "status": _status}),
    TrainingJob: RowRule(TRAINING, lambda g: training_tables(g).jobs,
                         {"version": _version, "status": _status}),
    Deployment: RowRule(DEPLOYMENTS, lambda g: deployments_table(g, MetaData()),
                        {"version": _version, "status": _status}),
    UsageRecord: RowRule(USAGE, lambda g: usage_tables(g).records,
                         {"quantity": lambda a: a.quantity}),
    Invoice: RowRule(INVOICES, lambda g: invoices_table(g, MetaData()),
                     {"version": _version, "status": _status, "total": lambda a: a.total}),
}

# Aggregates that no read model shows: replayed (so their events must still decode and apply
# in order) but not compared. The auth service's aggregates are all of this kind here.
REPLAY_ONLY: dict[type, str] = {ProjectNameClaim: "name claim", ModelNameClaim: "name claim",
                                 PriceBook: "price book, read from its events"}
AUTH_SERVICE = "auth service, no read model here"
NO_RULE = "no audit rule yet"


@dataclass
class Log:
    """One stored log: the applications that share its table, and how to name it."""

    apps: list[BitstrideApplication]
    has_read_models: bool

    @property
    def recorder(self) -> ChainedRecorder:
        recorder: ChainedRecorder = self.apps[0].recorder  # type: ignore[assignment]
        return recorder

    @property
    def label(self) -> str:
        names = [app.name.lower() for app in self.apps]
        return f"{names[0]} log" if len(names) == 1 else f"shared log of {', '.join(names)}"


def logs_of(plane: ControlPlane) -> list[Log]:
    """Every log once: on SQLite the control plane's applications share one table."""
    logs: dict[str, Log] = {}
    apps = [(app, True) for app in plane.applications] + [(plane.identity_log(), False)]
    for app, has_read_models in apps:
        key = getattr(app.recorder, "log_key", None)
        if key is None:
            raise NotChainedError(f"{app.name.lower()} log is not chained: its recorder is "
                             f"{type(app.recorder).__name__}; check the event store settings")
        logs.setdefault(key, Log([], has_read_models)).apps.append(app)
    return list(logs.values())


class NotChainedError(Exception):
    pass


@dataclass
class Tally:
    compared: int = 0
    pending: int = 0
    replay_only: Counter[str] = field(default_factory=Counter)


class RowChecker:
    """Compares replayed aggregates with their rows in the live generation of each table."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.tables: dict[type, Table] = {}
        self.positions: dict[tuple[str, str], int] = {}
        self.tally = Tally()

    def check(self, log: Log, originator_id: UUID | str, walk: Walk) -> str | None:
        """Replay the aggregate as the walk saw it; compare it with its row if projected."""
        app = log.apps[0]
        notification_id, version = walk.last_event_of[originator_id]
        aggregate_id = UUID(str(originator_id))  # every Bitstride aggregate id is a UUID
        try:
            aggregate: Any = replayed(app, aggregate_id, version)
        except Exception as error:  # any failure to replay is the finding
            return (f"{log.label}: aggregate {_name(originator_id)} does not replay: "
                    f"{type(error).__name__}: {error}")
        kind = type(aggregate)
        rule = RULES.get(kind) if log.has_read_models else None
        if rule is None:
            reason = REPLAY_ONLY.get(kind, NO_RULE) if log.has_read_models else AUTH_SERVICE
            self.tally.replay_only[f"{kind.__name__} ({reason})"] += 1
            return None
        if not self._projected(rule.projection, notification_id):
            self.tally.pending += 1
            return None
        problem = self._compare(log, rule, aggregate)
        if problem and app.repository.get(aggregate_id).version != version:
            self.tally.pending += 1  # it changed during the audit; its row may be newer
            return None
        self.tally.compared += 1
        return problem

    def _projected(self, projection: str, notification_id: int) -> bool:
        model = self.plane.read_models.models[projection]
        key = (projection, model.app.name)
        if key not in self.positions:
            tracker = self.plane.tracker(projection)
            self.positions[key] = tracker.max_tracking_id(model.app.name) or 0
        return self.positions[key] >= notification_id

    def _table(self, kind: type, rule: RowRule) -> Table:
        if kind not in self.tables:
            generation = self.plane.generations.active(rule.projection, fresh=True)
            self.tables[kind] = rule.table(generation)
        return self.tables[kind]

    def _compare(self, log: Log, rule: RowRule, aggregate: Any) -> str | None:
        table = self._table(type(aggregate), rule)
        name = f"{type(aggregate).__name__} {_name(aggregate.id)}"
        with self.plane.read_engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == aggregate.id.hex)) \
                .mappings().first()
        if row is None:
            return (f"{log.label}: {name} has no row in {table.name}; rebuild the "
                    f"projection: bitstride projections rebuild {rule.projection}")
        for column, value_of in rule.columns.items():
            expected = value_of(aggregate)
            if row[column] != expected:
                return (f"{log.label}: {name} has {column} {expected!r} in the log but "
                        f"{row[column]!r} in {table.name}; the read model was edited or is "
                        f"wrong: bitstride projections rebuild {rule.projection}")
        return None


def _name(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)
