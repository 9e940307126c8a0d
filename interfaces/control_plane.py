"""The composition root: builds every part of a Bitstride process from Settings.

`ControlPlane` owns the Tenancy application, the read models, the token verifier, the auth
service client (remote, or the auth app in-process) and, when asked, the worker's runners.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
import structlog
from sqlalchemy import Engine

from application.audit.entries import EventDescriber
from application.billing.service import BillingService
from application.datasets.service import DatasetService
from application.identity.log_reader import AuthLogReader
from application.identity.service import IdentityService
from application.models.service import ModelService
from application.ports import SessionRevocations
from application.serving.service import DeploymentService
from application.shared.base import BitstrideApplication
from application.tenancy.service import TenancyService
from application.training.service import TrainingService
from application.usage.service import UsageService
from domain.shared.errors import DomainError
from infra.auth.api_key_cache import ApiKeyCache
from infra.auth.api_key_changes import build_api_key_changes
from infra.auth.api_key_client import ApiKeyIntrospector, BearerVerifier
from infra.auth.revocations import InMemorySessionRevocations, RedisSessionRevocations
from infra.auth.tokens import AccessTokenVerifier
from infra.billing.loader import load_price_book
from infra.catalog.loader import CatalogError, load_catalog
from infra.database import query_engine, read_model_engine
from infra.eventstore import eventstore_env, is_postgres, setup_lock
from infra.gateway.factory import build_gateway_accounting
from infra.locks import AdvisoryLock, FileLock
from infra.metrics import Metrics
from infra.pg_listen import PgListener
from infra.redis_outage import redis_client
from infra.settings import Settings
from infra.storage.factory import object_store
from infra.training_catalogs import DatasetAggregates, ModelAggregates
from interfaces.http.auth_service.app import build_identity_service, create_auth_app
from interfaces.http.gateway.routing import RoutingTable
from interfaces.http.organization_states import OrganizationStates
from interfaces.read_models import ReadModel, ReadModels
from projections.audit.projection import PROJECTION_NAME as AUDIT
from projections.audit.projection import AuditProjection, audit_view
from projections.audit.queries import AuditLog, AuditQueries
from projections.billing.projection import PROJECTION_NAME as INVOICES
from projections.billing.projection import InvoicesProjection, InvoicesView
from projections.billing.queries import InvoiceQueries
from projections.billing.usage import ProjectedUsage
from projections.datasets.projection import PROJECTION_NAME as DATASETS
from projections.datasets.projection import DatasetsProjection, DatasetsView
from projections.datasets.queries import DatasetQueries
from projections.generations import GenerationRegistry
from projections.models.projection import PROJECTION_NAME as MODELS
from projections.models.projection import ModelsProjection, ModelsView
from projections.models.queries import ModelQueries
from projections.page_cache import ProjectionPages
from projections.runner import Runner, RunnerLock
from projections.serving.projection import PROJECTION_NAME as DEPLOYMENTS
from projections.serving.projection import DeploymentsProjection, DeploymentsView
from projections.serving.queries import DeploymentQueries
from projections.serving.usage import ActiveDeployments, ModelUsers
from projections.signal import LogSignals, TrackingSignals
from projections.supervisor import ProjectionSupervisor
from projections.tenancy.projection import ORGANIZATION_STATES, TenancyProjection, TenancyView
from projections.tenancy.projection import PROJECTION_NAME as TENANCY
from projections.tenancy.queries import TenancyQueries
from projections.tracking import TRACKING_CHANNEL, SqlTrackingRecorder
from projections.training.projection import PROJECTION_NAME as TRAINING
from projections.training.projection import TrainingProjection, TrainingView
from projections.training.queries import TrainingQueries
from projections.training.usage import UnfinishedJobs
from projections.usage.projection import PROJECTION_NAME as USAGE
from projections.usage.projection import UsageProjection, UsageView
from projections.usage.queries import UsageQueries

log = structlog.get_logger("bitstride.runtime")
A = TypeVar("A", bound=BitstrideApplication)


def tenancy_env(settings: Settings) -> dict[str, str]:
    return eventstore_env(settings.database_url, settings.events_sqlite_path,
                          settings.database_schema)


def identity_env(settings: Settings) -> dict[str, str]:
    return eventstore_env(settings.auth_database_url, settings.auth_sqlite_path,
                          settings.auth_database_schema)


def build_revocations(settings: Settings) -> SessionRevocations:
    if settings.redis_url:
        return RedisSessionRevocations(redis_client(settings.redis_url))
    return InMemorySessionRevocations()


class ControlPlane:
    """Everything a control-plane process needs, built once and closed once."""

    # The composition root: one statement per part is its point.
    def __init__(self, settings: Settings, *, embedded_auth: bool | None = None,
                 usage_writer_process: bool = False) -> None:
        """`usage_writer_process`: the gateway's usage is written by a process of its own
        (infra/gateway/usage_writer.py): what `bitstride serve` asks for on Postgres."""
        self._usage_writer_process = usage_writer_process
        # Processes starting together take turns creating their tables (setup_lock's doc).
        with setup_lock(settings.database_url):
            self._build(settings, embedded_auth)

    def _build(self, settings: Settings,  # noqa: PLR0915
               embedded_auth: bool | None) -> None:
        if embedded_auth is None:
            embedded_auth = settings.auth_service_url is None
        if embedded_auth and settings.auth_internal_token is None:
            settings = settings.with_overrides(auth_internal_token=secrets.token_urlsafe(32))
        self.settings = settings
        self.metrics = Metrics()
        self.log_signals = LogSignals()         # an event was appended to a log
        self.log_signal = self.log_signals.any  # ... to any log
        self.tracking_signal = TrackingSignals()   # a projection committed a position
        self.draining = threading.Event()       # the server stops: long responses end now
        self.tenancy = self._application(TenancyService)
        self.datasets = self._application(DatasetService)
        self.models = self._application(ModelService)
        self.usage = self._application(UsageService)
        self.billing = self._application(BillingService)
        self.model_catalog = ModelAggregates(self.models)
        self.training = self._wired(TrainingService(
            env=tenancy_env(settings), datasets=DatasetAggregates(self.datasets),
            models=self.model_catalog, outputs=self.model_catalog))
        self.serving = self._wired(DeploymentService(
            env=tenancy_env(settings), models=self.model_catalog))
        if not is_postgres(settings.database_url):  # every context appends to one table
            self.log_signals.share("events", [app.name for app in self.applications])
        self.read_engine: Engine = read_model_engine(
            settings.database_url, settings.events_sqlite_path, settings.read_model_schema)
        # Sized to the handler threads: each holds a connection while its query runs, and a
        # smaller pool opened and closed its overflow connections on every busy second.
        self.query_engine: Engine = query_engine(settings.database_url, self.read_engine,
                                                 settings.read_model_schema,
                                                 pool_size=settings.http_threads)
        self.generations = GenerationRegistry(self.read_engine)
        self.read_models = ReadModels(
            self.read_engine, self.generations, log_signals=self.log_signals,
            tracking_signal=self.tracking_signal, lock_for=self.runner_lock,
            on_failure=self.count_failure, query_engine=self.query_engine)
        self.queries = TenancyQueries(self.query_engine, self.generations,
                                      pages=self._pages(TENANCY))
        self.dataset_queries = DatasetQueries(self.query_engine, self.generations,
                                              pages=self._pages(DATASETS))
        self.model_queries = ModelQueries(self.query_engine, self.generations,
                                          pages=self._pages(MODELS))
        self.training_queries = TrainingQueries(self.query_engine, self.generations,
                                                pages=self._pages(TRAINING))
        self.deployment_queries = DeploymentQueries(self.query_engine, self.generations,
                                                    pages=self._pages(DEPLOYMENTS))
        self.usage_queries = UsageQueries(self.query_engine, self.generations)
        # Only a commit that changed an organization's state moves the cache on: other
        # commits (every project created, usage ten times a second) leave it alone.
        self.organization_states = OrganizationStates(
            self.queries.organization_state,
            changes=self.tracking_signal.watch(ORGANIZATION_STATES))
        self.invoice_queries = InvoiceQueries(self.query_engine, self.generations)
        # Unfinished jobs hold on to the datasets and models they train from; deployments that
        # are not stopped, to the models they serve.
        unfinished_jobs = UnfinishedJobs(self.training_queries)
        self.datasets.usage = unfinished_jobs
        self.models.usage = ModelUsers(unfinished_jobs, ActiveDeployments(self.deployment_queries))
        self.object_store = object_store(settings.object_store_url, settings.data_dir)
        self.read_models.add(ReadModel(TENANCY, self.tenancy, TenancyView, TenancyProjection))
        self.read_models.add(ReadModel(DATASETS, self.datasets, DatasetsView,
                                       DatasetsProjection))
        self.read_models.add(ReadModel(MODELS, self.models, ModelsView, ModelsProjection))
        self.read_models.add(ReadModel(TRAINING, self.training, TrainingView,
                                       TrainingProjection))
        self.read_models.add(ReadModel(DEPLOYMENTS, self.serving, DeploymentsView,
                                       DeploymentsProjection))
        self.read_models.add(ReadModel(USAGE, self.usage, UsageView, UsageProjection))
        self.read_models.add(ReadModel(INVOICES, self.billing, InvoicesView,
                                       InvoicesProjection))
        self.billing.usage = ProjectedUsage(self.usage_queries, self.usage,
                                            self.read_models.await_position)
        self._add_audit_read_models()
        self.load_model_catalog()
        self.load_price_book()
        self.revocations = build_revocations(settings)
        # API keys: introspection results cached briefly, dropped when the auth service pushes.
        self.api_key_cache = ApiKeyCache(settings.api_key_cache_seconds)
        self.api_key_changes = build_api_key_changes(settings.redis_url)
        self.api_key_changes.subscribe(self.api_key_cache.drop_key, self.api_key_cache.clear)
        self.identity: IdentityService | None = None
        self.auth_app: Any = None
        if embedded_auth:
            self._embed_auth_service()
        self.auth_http = self._auth_client()
        self.api_keys = ApiKeyIntrospector(self.auth_http, settings.auth_internal_token,
                                           self.api_key_cache)
        self.verifier: AccessTokenVerifier = BearerVerifier(
            fetch_jwks=self._fetch_jwks, issuer=settings.auth_issuer,
            audience=settings.auth_audience, revocations=self.revocations,
            api_keys=self.api_keys)
        self._wire_gateway()
        self.identity_reader: BitstrideApplication | None = self.identity
        self.process_managers: list[Runner] = []
        self._listener: PgListener | None = None
        self._closed = False
        self.metrics.watch_lag(self.projection_lags)

    def _pages(self, read_model: str) -> ProjectionPages:
        """List pages of `read_model`, answered from memory while its position stands."""
        return ProjectionPages(self.query_engine, self.read_models.announcer(read_model))

    def _wire_gateway(self) -> None:
        """The inference gateway's parts: usage metering, rate limits, and the routing table
        (its refresh thread starts with the HTTP app, in both modes)."""
        self.usage_meter, self.request_limiter = build_gateway_accounting(
            self.settings, self.usage, registry=self.metrics.registry,
            writer_process=self._usage_writer_process)
        self.routing = RoutingTable(self.deployment_queries, self.model_queries,
                                    self.tracking_signal.watch(DEPLOYMENTS, MODELS))

    def _application(self, cls: type[A]) -> A:
        """A context's eventsourcing Application on the shared store, wired for wake-ups."""
        return self._wired(cls(env=tenancy_env(self.settings)))

    def _wired(self, app: A) -> A:
        """Appends wake the projections and are timed."""
        app.append_listeners.append(self.log_signals.notify)
        app.append_timers.append(self._observe_append)
        return app

    def _add_audit_read_models(self) -> None:
        """Audit rows of every context but Usage (its records are traced by /v1/usage and
        invoices), one read model per log: on SQLite every context appends to one table, so
        one read model reads it all; on Postgres each context has a log of its own."""
        if is_postgres(self.settings.database_url):
            logs = [(f"{AUDIT}-{app.name.lower()}", app.name.lower(), app)
                    for app in self.applications if app is not self.usage]
        else:
            logs = [(AUDIT, "events", self.tenancy)]
        for name, _, app in logs:
            self.read_models.add(ReadModel(name, app, audit_view(name), lambda view: (
                AuditProjection(view, EventDescriber()))))
        self.audit_queries = AuditQueries(self.query_engine, self.generations,
                                          [AuditLog(name, log) for name, log, _ in logs])

    @property
    def applications(self) -> list[BitstrideApplication]:
        return [self.tenancy, self.datasets, self.models, self.training, self.usage,
                self.serving, self.billing]

    def load_model_catalog(self) -> int | None:
        """Record the catalog file's base models (at every start: unchanged entries record
        nothing); a bad file stops the start with one line."""
        try:
            return self.models.sync_base_catalog(load_catalog(self.settings.model_catalog_file))
        except DomainError as error:
            raise CatalogError(f"Model catalog: {error.message} ({error.param})") from None

    def load_price_book(self) -> int | None:
        """Publish the price book file as the next version when it differs from the latest
        (at every start: unchanged records nothing); a bad file stops the start with one line."""
        return self.billing.sync_price_book(load_price_book(self.settings.price_book_file),
                                            at=time.time())

    # -- auth service -----------------------------------------------------------------------

    def _embed_auth_service(self) -> None:
        self.identity = build_identity_service(self.settings, self.revocations)
        self.identity.append_listeners.append(self.log_signals.notify)
        self.auth_app = create_auth_app(self.settings, revocations=self.revocations,
                                        identity=self.identity)
        self.auth_app.state.api_key_changes = self.api_key_changes  # in-process push

    def _auth_client(self) -> httpx.AsyncClient:
        """One proxy code path: httpx over the network, or over ASGI to the embedded app."""
        timeout = httpx.Timeout(10.0, connect=2.0)
        # A proxy must never keep one caller's cookies for the next (a login flow's cookie).
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        if self.auth_app is not None:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.auth_app),
                                     base_url="http://auth.internal", timeout=timeout,
                                     cookies=no_cookies)
        return httpx.AsyncClient(base_url=str(self.settings.auth_service_url), timeout=timeout,
                                 cookies=no_cookies)

    async def _fetch_jwks(self) -> dict[str, Any]:
        response = await self.auth_http.get("/v1/auth/.well-known/jwks.json")
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    # -- read-your-writes -------------------------------------------------------------------

    def tracker(self, projection: str) -> SqlTrackingRecorder:
        return self.read_models.tracker(projection)

    def await_projections(self, application_name: str, position: int | None) -> None:
        """Return once the projections reading this log have applied `position`."""
        if position is None:
            return
        timeout = self.settings.read_your_writes_timeout_seconds
        if not self.read_models.await_position(application_name, position, timeout):
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
        return self.read_models.lags()

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
        if self.routing.started:  # this process serves inference
            checks["routing"] = self.routing.status()
        if self.settings.redis_url:
            checks["redis"] = self._redis_check()
        return checks

    def _redis_check(self) -> str:
        try:
            redis.Redis.from_url(str(self.settings.redis_url), socket_timeout=1).ping()
        except redis.RedisError as error:
            return f"unreachable ({type(error).__name__})"
        return "ok"

    # -- projections ----------------------------------------------------------------------

    def runner_lock(self, name: str) -> RunnerLock:
        if is_postgres(self.settings.database_url):
            return AdvisoryLock(str(self.settings.database_url), name,
                                scope=self.settings.read_model_schema)
        return FileLock(Path(self.settings.data_dir) / "locks", name)

    def tenancy_runner(self, generation: int) -> Runner:
        return self.read_models.runner(TENANCY, generation)

    @property
    def tenancy_projection(self) -> ProjectionSupervisor:
        return self.read_models.supervisors[TENANCY]

    def identity_log(self) -> BitstrideApplication:
        """The auth service's log: its own app when embedded, else read from its store."""
        if self.identity_reader is None:
            with setup_lock(self.settings.auth_database_url):  # it may create the auth tables
                self.identity_reader = AuthLogReader(env=identity_env(self.settings))
        return self.identity_reader

    def start_workers(self, selected: Callable[[str], bool] = lambda _name: True) -> None:
        """The projections and process managers whose names are `selected` (all by default:
        `bitstride worker --only/--except` splits them between processes)."""
        from interfaces.worker import process_manager_runners

        with setup_lock(self.settings.database_url):  # read-model and tracking tables
            self.read_models.start(selected)
            self.process_managers = [runner for runner in process_manager_runners(self)
                                     if selected(runner.name)]
        for runner in self.process_managers:
            runner.start()

    @property
    def runners(self) -> list[Runner]:
        return [*self.read_models.live_runners(), *self.process_managers]

    def start_listening(self) -> None:
        """Across processes (Postgres), hear appends and projection commits by NOTIFY."""
        if not is_postgres(self.settings.database_url):
            return
        channels = {TRACKING_CHANNEL: self.tracking_signal.notify}
        for app in self.applications:
            channels[app.recorder.channel_name] = partial(self.log_signals.notify, app.name)
        if is_postgres(self.settings.auth_database_url):
            auth_log = self.identity_log()
            channels[auth_log.recorder.channel_name] = partial(self.log_signals.notify,
                                                               auth_log.name)
        self._listener = PgListener(str(self.settings.database_url), channels)
        self._listener.start()
        self.log_signals.hear_every_process()

    def _observe_append(self, application: str, seconds: float) -> None:
        self.metrics.append_latency.labels(application=application).observe(seconds)

    def count_failure(self, name: str) -> None:
        self.metrics.projection_failures.labels(projection=name).inc()

    def begin_draining(self) -> None:
        """Long-lived responses (event streams) end at their next wake-up, woken now."""
        self.draining.set()
        self.tracking_signal.notify()

    def close(self) -> None:
        """Stop runners and listeners, then close stores; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self.routing.stop()
        self.usage_meter.close()  # flush buffered usage while the stores are open
        for runner in self.process_managers:
            runner.request_stop()
        self.read_models.stop()
        for runner in self.process_managers:
            runner.stop()
        if self._listener is not None:
            self._listener.stop()
        self.api_key_changes.close()
        for app in self.applications:
            app.close()
        if self.identity_reader is not None:
            self.identity_reader.close()
        self.query_engine.dispose()
        self.read_engine.dispose()

