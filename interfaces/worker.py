"""The worker's parts beyond the tenancy projection: process managers, status, rebuild."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from application.billing.closer import BillingCloser
from application.datasets.validation import DatasetValidation
from application.serving.backend import ServingBackend
from application.serving.controller import ControllerSettings, DeploymentController
from application.tenancy.policies import OrganizationClosure, PersonalOrganizations
from application.training.ports import Executor
from application.training.scheduler import Limits, TrainingScheduler
from infra.dataset_rows import decode_plain_chat
from infra.executors.inline import InlineExecutor
from infra.executors.local import LocalExecutor
from infra.identity_gateway import HttpIdentityGateway, InProcessIdentityGateway
from infra.serving.reference import ReferenceBackend
from infra.serving.upstream import UpstreamBackend
from infra.tokenizers import token_counter_for
from interfaces.control_plane import ControlPlane
from projections.runner import Processor, Runner
from projections.tenancy.projection import PROJECTION_NAME
from projections.tracking import SqlTrackingRecorder
from projections.view import SqlView

PERSONAL_ORGANIZATIONS = "personal-organizations"
DATASET_VALIDATION = "dataset-validation"
ORGANIZATION_CLOSURE = "organization-closure"
TRAINING_SCHEDULER = "training-scheduler"
DEPLOYMENT_CONTROLLER = "deployment-controller"
BILLING_CLOSE = "billing-close"
PROCESS_MANAGERS = (PERSONAL_ORGANIZATIONS, DATASET_VALIDATION, ORGANIZATION_CLOSURE,
                    TRAINING_SCHEDULER, DEPLOYMENT_CONTROLLER, BILLING_CLOSE)


def worker_selection(plane: ControlPlane, only: str | None,
                     excluded: str | None) -> Callable[[str], bool]:
    """Which projections and process managers a worker runs, from `--only` and `--except`
    (comma-separated names; neither: all). Each runs in one process at a time whatever the
    split (its lock), so overlapping workers are safe; one that no worker runs stands still.
    Raises ValueError naming the known names when a name is not one of them."""
    known = [*plane.read_models.supervisors, *PROCESS_MANAGERS]
    chosen, dropped = _names(only, known), _names(excluded, known)
    return lambda name: (not chosen or name in chosen) and name not in dropped


def _names(listed: str | None, known: list[str]) -> set[str]:
    names = {name.strip() for name in (listed or "").split(",") if name.strip()}
    unknown = sorted(names - set(known))
    if unknown:
        raise ValueError(f"unknown projection or process manager {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    return names


class ProjectedProjectDirectory:
    """The org-closure policy's view of an org's projects: the read model, once caught up."""

    CATCH_UP_TIMEOUT_SECONDS = 30.0

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def project_ids(self, org_id: str, *, as_of: Tracking) -> list[str]:
        self.plane.tracker(PROJECTION_NAME).wait(
            as_of.application_name, as_of.notification_id, timeout=self.CATCH_UP_TIMEOUT_SECONDS)
        return self.plane.queries.project_ids(org_id)


def tracker_of(plane: ControlPlane, name: str) -> SqlTrackingRecorder:
    return SqlTrackingRecorder(plane.read_engine, name, plane.tracking_signal)


def manager_runner(plane: ControlPlane, name: str, app: Application[Any], processor: Processor,
                   recorder: SqlTrackingRecorder, *,
                   tick: Callable[[], None] | None = None,
                   batch: Callable[[], AbstractContextManager[None]] | None = None) -> Runner:
    """A process manager following `app`'s log: woken by its appends, one at a time by lock.

    With `batch` (a SqlView's), the manager's positions commit once per batch instead of once
    per event (its effects still commit on their own, and repeat harmlessly if the batch is
    retried)."""
    return Runner(name=name, app=app, processor=processor, recorder=recorder,
                  wakeup=plane.log_signals.of(app.name), lock=plane.runner_lock(name),
                  on_failure=plane.count_failure, tick=tick, batch=batch)


def process_manager_runners(plane: ControlPlane) -> list[Runner]:
    settings = plane.settings
    gateway = (InProcessIdentityGateway(plane.identity) if plane.identity is not None
               else HttpIdentityGateway(str(settings.auth_service_url),
                                        str(settings.auth_internal_token)))
    validation = tracker_of(plane, DATASET_VALIDATION)
    personal = tracker_of(plane, PERSONAL_ORGANIZATIONS)
    # The closure follows the busiest log and rarely acts: its position commits per batch.
    closure = SqlView(plane.read_engine, ORGANIZATION_CLOSURE, plane.tracking_signal)
    runners = [
        manager_runner(plane, DATASET_VALIDATION, plane.datasets, DatasetValidation(
            plane.datasets, plane.object_store, token_counter_for, validation,
            plain_chat=decode_plain_chat), validation),
        manager_runner(plane, PERSONAL_ORGANIZATIONS, plane.identity_log(),
                       PersonalOrganizations(plane.tenancy, personal), personal),
        manager_runner(plane, ORGANIZATION_CLOSURE, plane.tenancy, OrganizationClosure(
            plane.tenancy, gateway, ProjectedProjectDirectory(plane), closure), closure,
            batch=closure.batch),
    ]
    if settings.training_executor != "none":
        runners.append(training_scheduler_runner(plane))
    if settings.deployment_controller:
        runners.append(deployment_controller_runner(plane))
    runners.append(billing_close_runner(plane))
    return runners


def training_executor(plane: ControlPlane) -> Executor:
    if plane.settings.training_executor == "dry-run":
        return InlineExecutor(plane.training, plane.datasets, plane.object_store)
    return LocalExecutor(plane.training, plane.datasets, plane.object_store,
                         work_dir=plane.settings.training_runs_dir)


def training_scheduler_runner(plane: ControlPlane) -> Runner:
    settings = plane.settings
    scheduling = tracker_of(plane, TRAINING_SCHEDULER)
    scheduler = TrainingScheduler(
        plane.training, training_executor(plane), scheduling,
        limits=Limits(capacity=settings.training_capacity,
                      per_organization=settings.training_org_concurrency,
                      heartbeat_seconds=settings.training_heartbeat_seconds),
        usage=plane.usage)
    return manager_runner(plane, TRAINING_SCHEDULER, plane.training, scheduler, scheduling,
                          tick=scheduler.tick)


def deployment_controller_runner(plane: ControlPlane) -> Runner:
    settings = plane.settings
    controlling = tracker_of(plane, DEPLOYMENT_CONTROLLER)
    backends: dict[str, ServingBackend] = {
        "reference": ReferenceBackend(plane.object_store, work_dir=settings.serving_replicas_dir),
        "upstream": UpstreamBackend()}
    controller = DeploymentController(
        plane.serving, backends, controlling, models=plane.model_catalog, usage=plane.usage,
        settings=ControllerSettings(
            ready_timeout_seconds=settings.replica_ready_timeout_seconds))
    return manager_runner(plane, DEPLOYMENT_CONTROLLER, plane.serving, controller, controlling,
                          tick=controller.tick)


def billing_close_runner(plane: ControlPlane) -> Runner:
    """Closes ended periods into invoices on its tick; follows the Billing log to learn
    which invoices exist."""
    closing = tracker_of(plane, BILLING_CLOSE)
    closer = BillingCloser(plane.billing, closing,
                           grace_seconds=plane.settings.billing_close_grace_seconds)
    return manager_runner(plane, BILLING_CLOSE, plane.billing, closer, closing,
                          tick=closer.tick)


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    generation: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


def projection_status(plane: ControlPlane) -> list[ProjectionStatus]:
    """Every read model and process manager: its position against its log's head."""

    def position(tracker: str, application: str) -> int:
        recorder = SqlTrackingRecorder(plane.read_engine, tracker)
        return recorder.max_tracking_id(application) or 0

    rows = []
    for name, model in plane.read_models.models.items():
        generation = plane.generations.active(name, fresh=True)
        rows.append(ProjectionStatus(
            name, generation, position(f"{name}@{generation}", model.app.name),
            model.app.recorder.max_notification_id() or 0))
    managers = [(ORGANIZATION_CLOSURE, plane.tenancy), (DATASET_VALIDATION, plane.datasets),
                (PERSONAL_ORGANIZATIONS, plane.identity_log()), (BILLING_CLOSE, plane.billing)]
    if plane.settings.training_executor != "none":
        managers.append((TRAINING_SCHEDULER, plane.training))
    if plane.settings.deployment_controller:
        managers.append((DEPLOYMENT_CONTROLLER, plane.serving))
    for name, app in managers:
        rows.append(ProjectionStatus(name, 1, position(name, app.name),
                                     app.recorder.max_notification_id() or 0))
    return rows


def rebuild(plane: ControlPlane, name: str,
            progress: Callable[[int], None] | None = None) -> int:
    """Rebuild a projection beside the live one; returns the generation now serving reads."""
    return plane.read_models.rebuild(name, progress)
