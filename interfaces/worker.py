"""The worker's parts beyond the tenancy projection: process managers, status, rebuild."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import Tracking

from application.datasets.validation import DatasetValidation
from application.serving.backend import ServingBackend
from application.serving.controller import ControllerSettings, DeploymentController
from application.tenancy.policies import OrganizationClosure, PersonalOrganizations
from application.training.ports import Executor
from application.training.scheduler import Limits, TrainingScheduler
from infra.executors.inline import InlineExecutor
from infra.executors.local import LocalExecutor
from infra.identity_gateway import HttpIdentityGateway, InProcessIdentityGateway
from infra.serving.reference import ReferenceBackend
from infra.serving.upstream import UpstreamBackend
from infra.tokenizers import token_counter_for
from interfaces.control_plane import ControlPlane
from projections.runner import Runner
from projections.tenancy.projection import PROJECTION_NAME
from projections.tracking import SqlTrackingRecorder

PERSONAL_ORGANIZATIONS = "personal-organizations"
DATASET_VALIDATION = "dataset-validation"
ORGANIZATION_CLOSURE = "organization-closure"
TRAINING_SCHEDULER = "training-scheduler"
DEPLOYMENT_CONTROLLER = "deployment-controller"


class ProjectedProjectDirectory:
    """The org-closure policy's view of an org's projects: the read model, once caught up."""

    CATCH_UP_TIMEOUT_SECONDS = 30.0

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def project_ids(self, org_id: str, *, as_of: Tracking) -> list[str]:
        self.plane.tracker(PROJECTION_NAME).wait(
            as_of.application_name, as_of.notification_id, timeout=self.CATCH_UP_TIMEOUT_SECONDS)
        return self.plane.queries.project_ids(org_id)


def process_manager_runners(plane: ControlPlane) -> list[Runner]:
    personal = SqlTrackingRecorder(plane.read_engine, PERSONAL_ORGANIZATIONS,
                                   plane.tracking_signal)
    closure = SqlTrackingRecorder(plane.read_engine, ORGANIZATION_CLOSURE, plane.tracking_signal)
    settings = plane.settings
    gateway = (InProcessIdentityGateway(plane.identity) if plane.identity is not None
               else HttpIdentityGateway(str(settings.auth_service_url),
                                        str(settings.auth_internal_token)))
    validation = SqlTrackingRecorder(plane.read_engine, DATASET_VALIDATION,
                                     plane.tracking_signal)
    runners = [
        Runner(name=DATASET_VALIDATION, app=plane.datasets,
               processor=DatasetValidation(plane.datasets, plane.object_store,
                                           token_counter_for, validation),
               recorder=validation, wakeup=plane.log_signal,
               lock=plane.runner_lock(DATASET_VALIDATION), on_failure=plane.count_failure),
        Runner(name=PERSONAL_ORGANIZATIONS, app=plane.identity_log(),
               processor=PersonalOrganizations(plane.tenancy, personal), recorder=personal,
               wakeup=plane.log_signal, lock=plane.runner_lock(PERSONAL_ORGANIZATIONS),
               on_failure=plane.count_failure),
        Runner(name=ORGANIZATION_CLOSURE, app=plane.tenancy,
               processor=OrganizationClosure(plane.tenancy, gateway,
                                             ProjectedProjectDirectory(plane), closure),
               recorder=closure, wakeup=plane.log_signal,
               lock=plane.runner_lock(ORGANIZATION_CLOSURE), on_failure=plane.count_failure),
    ]
    if settings.training_executor != "none":
        runners.append(training_scheduler_runner(plane))
    if settings.deployment_controller:
        runners.append(deployment_controller_runner(plane))
    return runners


def training_executor(plane: ControlPlane) -> Executor:
    if plane.settings.training_executor == "dry-run":
        return InlineExecutor(plane.training, plane.datasets, plane.object_store)
    return LocalExecutor(plane.training, plane.datasets, plane.object_store,
                         work_dir=plane.settings.training_runs_dir)


def training_scheduler_runner(plane: ControlPlane) -> Runner:
    settings = plane.settings
    scheduling = SqlTrackingRecorder(plane.read_engine, TRAINING_SCHEDULER,
                                     plane.tracking_signal)
    scheduler = TrainingScheduler(
        plane.training, training_executor(plane), scheduling,
        limits=Limits(capacity=settings.training_capacity,
                      per_organization=settings.training_org_concurrency,
                      heartbeat_seconds=settings.training_heartbeat_seconds),
        models=plane.model_catalog, usage=plane.usage)
    return Runner(name=TRAINING_SCHEDULER, app=plane.training, processor=scheduler,
                  recorder=scheduling, wakeup=plane.log_signal,
                  lock=plane.runner_lock(TRAINING_SCHEDULER), on_failure=plane.count_failure,
                  tick=scheduler.tick)


def deployment_controller_runner(plane: ControlPlane) -> Runner:
    settings = plane.settings
    controlling = SqlTrackingRecorder(plane.read_engine, DEPLOYMENT_CONTROLLER,
                                      plane.tracking_signal)
    backends: dict[str, ServingBackend] = {
        "reference": ReferenceBackend(plane.object_store, work_dir=settings.serving_replicas_dir),
        "upstream": UpstreamBackend()}
    controller = DeploymentController(
        plane.serving, backends, controlling, models=plane.model_catalog, usage=plane.usage,
        settings=ControllerSettings(
            ready_timeout_seconds=settings.replica_ready_timeout_seconds))
    return Runner(name=DEPLOYMENT_CONTROLLER, app=plane.serving, processor=controller,
                  recorder=controlling, wakeup=plane.log_signal,
                  lock=plane.runner_lock(DEPLOYMENT_CONTROLLER), on_failure=plane.count_failure,
                  tick=controller.tick)


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
                (PERSONAL_ORGANIZATIONS, plane.identity_log())]
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
