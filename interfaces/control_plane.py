"""The composition root: builds every part of a Bitstride process from Settings.

`ControlPlane` owns the Tenancy application, the read models, the token verifier, the auth
service client (remote, or the auth app in-process) and, when asked, the worker's runners.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.persistence import Tracking
import redis
import structlog
from sqlalchemy import Engine

from application.identity.log_reader import AuthLogReader
from application.identity.service import IdentityService
from application.ports import SessionRevocations
from application.shared.base import BitstrideApplication
from application.tenancy.policies import OrganizationClosure, PersonalOrganizations
from application.tenancy.service import TenancyService
from infra.auth.revocations import InMemorySessionRevocations, RedisSessionRevocations
from infra.auth.tokens import AccessTokenVerifier
from infra.database import read_model_engine
from infra.eventstore import eventstore_env, is_postgres
from infra.identity_gateway import HttpIdentityGateway, InProcessIdentityGateway
from infra.locks import AdvisoryLock, FileLock
from infra.metrics import Metrics
from infra.pg_listen import PgListener
from infra.settings import Settings
from interfaces.http.auth_service.app import build_identity_service, create_auth_app
from projections.generations import GenerationRegistry
from projections.runner import Runner, RunnerLock
from projections.signal import ChangeSignal
from projections.tenancy.projection import PROJECTION_NAME, TenancyProjection, TenancyView
from projections.tenancy.queries import TenancyQueries
from projections.tracking import TRACKING_CHANNEL, SqlTrackingRecorder

log = structlog.get_logger("bitstride.runtime")
SUPERVISE_SECONDS = 1.0


def tenancy_env(settings: Settings) -> dict[str, str]:
    return eventstore_env(settings.database_url, settings.events_sqlite_path,
                          settings.database_schema)


def identity_env(settings: Settings) -> dict[str, str]:
    return eventstore_env(settings.auth_database_url, settings.auth_sqlite_path,
                          settings.auth_database_schema)


def build_revocations(settings: Settings) -> SessionRevocations:
    if settings.redis_url:
        return RedisSessionRevocations(redis.Redis.from_url(settings.redis_url))
    return InMemorySessionRevocations()


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    generation: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class ProjectedProjectDirectory:
    """The org-closure policy's view of an org's projects: the read model, once caught up."""

    CATCH_UP_TIMEOUT_SECONDS = 30.0

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def project_ids(self, org_id: str, *, as_of: Tracking) -> list[str]:
        self.plane.tracker(PROJECTION_NAME).wait(
            as_of.application_name, as_of.notification_id, timeout=self.CATCH_UP_TIMEOUT_SECONDS)
        return self.plane.queries.project_ids(org_id)


class ControlPlane:
    """Everything a control-plane process needs, built once and closed once."""

    def __init__(self, settings: Settings, *, embedded_auth: bool | None = None) -> None:
        if embedded_auth is None:
            embedded_auth = settings.auth_service_url is None
        if embedded_auth and settings.auth_internal_token is None:
            settings = settings.with_overrides(auth_internal_token=secrets.token_urlsafe(32))
        self.settings = settings
        self.metrics = Metrics()
        self.log_signal = ChangeSignal()        # an event was appended to a log
        self.tracking_signal = ChangeSignal()   # a projection committed a position
        self.tenancy = TenancyService(env=tenancy_env(settings))
        self.tenancy.append_listeners.append(self.log_signal.notify)
        self.tenancy.append_timers.append(self._observe_append)
        self.read_engine: Engine = read_model_engine(
            settings.database_url, settings.events_sqlite_path, settings.read_model_schema)
        self.generations = GenerationRegistry(self.read_engine)
        self.queries = TenancyQueries(self.read_engine, self.generations)
        self.revocations = build_revocations(settings)
        self.identity: IdentityService | None = None
        self.auth_app: Any = None
        if embedded_auth:
            self._embed_auth_service()
        self.auth_http = self._auth_client()
        self.verifier = AccessTokenVerifier(
            fetch_jwks=self._fetch_jwks, issuer=settings.auth_issuer,
            audience=settings.auth_audience, revocations=self.revocations)
        self.identity_reader: BitstrideApplication | None = self.identity
        self.runners: list[Runner] = []
        self._listener: PgListener | None = None
        self._closing = threading.Event()
        self.metrics.watch_lag(self.projection_lags)

    # -- auth service -----------------------------------------------------------------------

    def _embed_auth_service(self) -> None:
        self.identity = build_identity_service(self.settings, self.revocations)
        self.identity.append_listeners.append(self.log_signal.notify)
        self.auth_app = create_auth_app(self.settings, revocations=self.revocations,
                                        identity=self.identity)

    def _auth_client(self) -> httpx.AsyncClient:
        """One proxy code path: httpx over the network, or over ASGI to the embedded app."""
        timeout = httpx.Timeout(10.0, connect=2.0)
        if self.auth_app is not None:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.auth_app),
                                     base_url="http://auth.internal", timeout=timeout)
        return httpx.AsyncClient(base_url=str(self.settings.auth_service_url), timeout=timeout)

    async def _fetch_jwks(self) -> dict[str, Any]:
        response = await self.auth_http.get("/v1/auth/.well-known/jwks.json")
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    # -- read-your-writes -------------------------------------------------------------------

    def tracker(self, projection: str) -> SqlTrackingRecorder:
        generation = self.generations.active(projection)
        return SqlTrackingRecorder(self.read_engine, f"{projection}@{generation}",
                                   self.tracking_signal)

    def await_projections(self, application_name: str, position: int | None) -> None:
        """Return once the projections reading this log have applied `position`."""
        if position is None:
            return
        try:
            self.tracker(PROJECTION_NAME).wait(
                application_name, position, timeout=self.settings.read_your_writes_timeout_seconds)
        except TimeoutError:
            log.warning("read_your_writes_timeout", application=application_name,
                        position=position, action="check `bitstride projections status`")

    def await_personal_organization(self, auth_position: int) -> None:
        """After a registration: wait for its organization to be opened, then projected."""
        opener = SqlTrackingRecorder(self.read_engine, "personal-organizations",
                                     self.tracking_signal)
        timeout = self.settings.read_your_writes_timeout_seconds
        try:
            opener.wait(IdentityService.name, auth_position, timeout=timeout)
        except TimeoutError:
            log.warning("personal_organization_pending", auth_position=auth_position)
            return
        self.await_projections(self.tenancy.name, self.tenancy.recorder.max_notification_id())

    def projection_lags(self) -> Iterable[tuple[str, int]]:
        head = self.tenancy.recorder.max_notification_id() or 0
        position = self.tracker(PROJECTION_NAME).max_tracking_id(self.tenancy.name) or 0
        yield PROJECTION_NAME, max(head - position, 0)

    def readiness(self) -> dict[str, str]:
        """Each check's result: "ok", or what is wrong in words an operator can act on."""
        checks: dict[str, str] = {}
        try:
            lags = dict(self.projection_lags())
            checks["event_store"] = "ok"
        except Exception as error:
            return {"event_store": f"unreachable ({type(error).__name__})"}
        worst = max(lags.values(), default=0)
        checks["projections"] = "ok" if worst <= self.settings.ready_max_lag else (
            f"lag {worst} events exceeds {self.settings.ready_max_lag}")
        failed = [runner.name for runner in self.runners if runner.status.state == "failed"]
        if failed:
            checks["projections"] = f"stopped by an error: {', '.join(failed)}"
        if self.settings.redis_url:
            checks["redis"] = self._redis_check()
        return checks

    def _redis_check(self) -> str:
        try:
            redis.Redis.from_url(str(self.settings.redis_url), socket_timeout=1).ping()
        except redis.RedisError as error:
            return f"unreachable ({type(error).__name__})"
        return "ok"

    # -- projections admin -----------------------------------------------------------------

    def rebuildable(self) -> list[str]:
        return [PROJECTION_NAME]

    def projection_status(self) -> list[ProjectionStatus]:
        rows = []
        tenancy_head = self.tenancy.recorder.max_notification_id() or 0
        generation = self.generations.active(PROJECTION_NAME)
        position = self.tracker(PROJECTION_NAME).max_tracking_id(self.tenancy.name) or 0
        rows.append(ProjectionStatus(PROJECTION_NAME, generation, position, tenancy_head))
        closure = SqlTrackingRecorder(self.read_engine, "organization-closure")
        rows.append(ProjectionStatus("organization-closure", 1,
                                     closure.max_tracking_id(self.tenancy.name) or 0,
                                     tenancy_head))
        reader = AuthLogReader(env=identity_env(self.settings))
        try:
            personal = SqlTrackingRecorder(self.read_engine, "personal-organizations")
            rows.append(ProjectionStatus("personal-organizations", 1,
                                         personal.max_tracking_id(reader.name) or 0,
                                         reader.recorder.max_notification_id() or 0))
        finally:
            reader.close()
        return rows

    def rebuild(self, name: str, progress: Callable[[int], None] | None = None) -> int:
        """Fill the next generation's tables from the log, then point readers at them.

        The live generation keeps serving until the switch and stays intact after it (the
        one before it is dropped now), so no read fails; runners hand over on their own.
        """
        current = self.generations.active(name)
        if current > 1:
            TenancyView(self.read_engine, current - 1).drop()
        runner = self.tenancy_runner(current + 1)
        stop = threading.Event()
        runner.lock.acquire(stop)
        try:
            runner.catch_up(progress)
            self.generations.switch(name, current + 1)
        finally:
            runner.lock.release()
        return current + 1

    # -- worker -----------------------------------------------------------------------------

    def runner_lock(self, name: str) -> RunnerLock:
        if is_postgres(self.settings.database_url):
            return AdvisoryLock(str(self.settings.database_url), name)
        return FileLock(Path(self.settings.data_dir) / "locks", name)

    def tenancy_runner(self, generation: int) -> Runner:
        view = TenancyView(self.read_engine, generation, self.tracking_signal)
        name = f"{PROJECTION_NAME}@{generation}"
        return Runner(name=name, app=self.tenancy, processor=TenancyProjection(view),
                      recorder=view, wakeup=self.log_signal, lock=self.runner_lock(name),
                      batch=view.batch, on_failure=self._count_failure)

    def process_manager_runners(self) -> list[Runner]:
        if self.identity_reader is None:  # a worker reads the auth service's log directly
            self.identity_reader = AuthLogReader(env=identity_env(self.settings))
        identity = self.identity_reader
        personal = SqlTrackingRecorder(self.read_engine, "personal-organizations",
                                       self.tracking_signal)
        closure = SqlTrackingRecorder(self.read_engine, "organization-closure",
                                      self.tracking_signal)
        gateway = (InProcessIdentityGateway(self.identity) if self.identity is not None
                   else HttpIdentityGateway(str(self.settings.auth_service_url),
                                            str(self.settings.auth_internal_token)))
        return [
            Runner(name="personal-organizations", app=identity,
                   processor=PersonalOrganizations(self.tenancy, personal), recorder=personal,
                   wakeup=self.log_signal, lock=self.runner_lock("personal-organizations"),
                   on_failure=self._count_failure),
            Runner(name="organization-closure", app=self.tenancy,
                   processor=OrganizationClosure(self.tenancy, gateway,
                                                 ProjectedProjectDirectory(self), closure),
                   recorder=closure, wakeup=self.log_signal,
                   lock=self.runner_lock("organization-closure"),
                   on_failure=self._count_failure),
        ]

    def start_workers(self) -> None:
        self._tenancy_generation = self.generations.active(PROJECTION_NAME)
        self.runners = [self.tenancy_runner(self._tenancy_generation),
                        *self.process_manager_runners()]
        for runner in self.runners:
            runner.start()
        self._supervisor = threading.Thread(target=self._follow_switches, daemon=True,
                                            name="projection-supervisor")
        self._supervisor.start()

    def _follow_switches(self) -> None:
        """After a rebuild switched generations, hand the live runner over to the new one."""
        while not self._closing.wait(SUPERVISE_SECONDS):
            generation = self.generations.active(PROJECTION_NAME)
            if generation == self._tenancy_generation:
                continue
            old = self.runners[0]
            old.stop()
            self.runners[0] = self.tenancy_runner(generation)
            self.runners[0].start()
            self._tenancy_generation = generation
            log.info("projection_switched", projection=PROJECTION_NAME, generation=generation)

    def start_listening(self) -> None:
        """Across processes (Postgres), hear appends and projection commits by NOTIFY."""
        if not is_postgres(self.settings.database_url):
            return
        channels = {TRACKING_CHANNEL: self.tracking_signal.notify,
                    self.tenancy.recorder.channel_name: self.log_signal.notify}
        reader = self.identity_reader
        if reader is not None and is_postgres(self.settings.auth_database_url):
            channels[reader.recorder.channel_name] = self.log_signal.notify
        self._listener = PgListener(str(self.settings.database_url), channels)
        self._listener.start()

    def _observe_append(self, application: str, seconds: float) -> None:
        self.metrics.append_latency.labels(application=application).observe(seconds)

    def _count_failure(self, name: str) -> None:
        self.metrics.projection_failures.labels(projection=name).inc()

    def close(self) -> None:
        self._closing.set()
        for runner in self.runners:
            runner.stop()
        if self._listener is not None:
            self._listener.stop()
        self.tenancy.close()
        if self.identity_reader is not None:
            self.identity_reader.close()
        self.read_engine.dispose()

