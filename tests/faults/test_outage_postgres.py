"""Postgres restarted under load (issue 9, section 3), in the production shape.

The auth service, the worker and the control plane run as separate processes on a private
Postgres server (tests/support/private_servers.py), while writers create projects and readers
list them. The server is stopped with `-m immediate` (a crash: every session is cut, and what
was committed survives only through the WAL; `-m fast` passes too), the outage is observed
from outside, and the server starts again on the same port. Checked: during the outage every
answer that needs the database is 503 `service_unavailable` in the envelope, quickly (never a
500, never a hang), while a list page kept in memory may still be answered in the outage's
first second (nothing can commit meanwhile, so it is current);
afterwards service resumes within seconds with no process restarted, and every acknowledged
write is in the read model (projected by the worker) and in the log.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import anyio
import httpx
import pytest

from application.tenancy.service import TenancyService
from infra.eventstore import postgres_env
from tests.e2e.conftest import Account, error_of, sign_up
from tests.e2e.test_split_processes import SplitDeployment, split_deployment
from tests.e2e.test_walkthrough import http_client
from tests.support.private_servers import RestartablePostgres, private_pg

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.redis]

__all__ = ["private_pg", "split_deployment"]  # the production shape, on a private server

WRITERS, READERS = 4, 2
UNKEPT_PAGE_SIZE = 7  # the readers list the default 20
WRITES_AROUND = 20  # acknowledged before the outage, and again after the first one back
SLOW_SECONDS = 5.0  # no answer, outage or not, may take longer than this
RECOVERY_SECONDS = 20.0
STOP_MODE = "immediate"


@pytest.fixture
def postgres_url(private_pg: RestartablePostgres) -> str:
    """The split deployment's database: the private server this test restarts."""
    return private_pg.url


@dataclass
class Load:
    """Writers and readers running until `stop`; every answer kept for the checks."""

    client: httpx.AsyncClient
    account: Account
    stop: anyio.Event = field(default_factory=anyio.Event)
    acknowledged: list[str] = field(default_factory=list)
    answers: list[tuple[str, int, float, httpx.Response]] = field(default_factory=list)

    async def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self.client.request(method, path, headers=self.account.headers,
                                                 **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as error:  # kept, and failed on below: a hang or a drop
            response = httpx.Response(0, text=f"{type(error).__name__} on {method} {path}")
        self.answers.append((method, response.status_code, time.monotonic() - started,
                             response))
        return response

    async def write(self) -> None:
        while not self.stop.is_set():
            response = await self._call("POST", "/v1/projects",
                                        json={"name": f"p-{uuid.uuid4().hex[:12]}"})
            if response.status_code == 201:
                self.acknowledged.append(response.json()["id"])
            elif response.status_code == 503:
                await anyio.sleep(0.05)

    async def read(self) -> None:
        while not self.stop.is_set():
            if (await self._call("GET", "/v1/projects")).status_code == 503:
                await anyio.sleep(0.05)


async def until_acknowledged(load: Load, more: int = 1) -> float:
    """Seconds until `more` writes are acknowledged from now on."""
    since, target = time.monotonic(), len(load.acknowledged) + more
    while len(load.acknowledged) < target:
        assert time.monotonic() < since + RECOVERY_SECONDS, "writes are not acknowledged"
        await anyio.sleep(0.02)
    return time.monotonic() - since


async def listed_ids(client: httpx.AsyncClient, account: Account) -> set[str]:
    ids: set[str] = set()
    after: str | None = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = await client.get("/v1/projects", headers=account.headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        ids |= {project["id"] for project in body["data"]}
        if not body["has_more"]:
            return ids
        after = body["last_id"]


def logged_ids(url: str, schema: str) -> set[str]:
    """Project ids with a creation event in the tenancy log (the event store itself)."""
    log = TenancyService(env=postgres_env(url, schema))
    try:
        notifications = log.recorder.select_notifications(start=None, limit=1_000_000)
    finally:
        log.close()
    return {f"proj_{n.originator_id.hex}" for n in notifications  # type: ignore[union-attr]
            if n.topic.endswith("Project.Created")}


async def test_postgres_restart_under_load(split_deployment: SplitDeployment,
                                           private_pg: RestartablePostgres,
                                           pg_schemas: dict[str, str]) -> None:
    processes = [split_deployment.auth, split_deployment.worker, split_deployment.control_plane]
    async with http_client(split_deployment.control_plane_url) as client:
        client.timeout = httpx.Timeout(SLOW_SECONDS * 2)
        ada = await sign_up(client, "ada")
        load = Load(client, ada)
        async with anyio.create_task_group() as tasks:
            for _ in range(WRITERS):
                tasks.start_soon(load.write)
            for _ in range(READERS):
                tasks.start_soon(load.read)
            await until_acknowledged(load, WRITES_AROUND)

            await anyio.to_thread.run_sync(private_pg.stop, STOP_MODE)
            outage_started = time.monotonic()
            ready = await client.get("/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["error"]["code"] == "not_ready"
            error_of(await client.post("/v1/projects", headers=ada.headers,
                                       json={"name": "during"}), 503, "service_unavailable")
            # A page size no reader asks for: not kept in memory, so it needs the database.
            error_of(await client.get("/v1/projects", headers=ada.headers,
                                      params={"limit": UNKEPT_PAGE_SIZE}), 503,
                     "service_unavailable")
            await anyio.sleep(0.5)
            await anyio.to_thread.run_sync(private_pg.launch)
            outage = time.monotonic() - outage_started
            recovered_after = await until_acknowledged(load)
            await until_acknowledged(load, WRITES_AROUND)
            load.stop.set()

        print(f"outage {outage:.2f} s, first acknowledged write {recovered_after:.2f} s after; "
              f"{len(load.answers)} answers, {len(load.acknowledged)} writes acknowledged, "
              f"{sum(s == 503 for _, s, _, _ in load.answers)} 503s, slowest "
              f"{max(t for _, _, t, _ in load.answers):.2f} s")
        slow = [(m, s, round(t, 2)) for m, s, t, _ in load.answers if t > SLOW_SECONDS]
        assert not slow, slow
        statuses = {(m, s) for m, s, _, _ in load.answers}
        assert statuses <= {("POST", 201), ("POST", 503), ("GET", 200), ("GET", 503)}, statuses
        assert ("POST", 503) in statuses
        for _, status, _, response in load.answers:
            if status == 503:
                error_of(response, 503, "service_unavailable")

        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        after = await client.post("/v1/projects", headers=ada.headers, json={"name": "after"})
        assert after.status_code == 201, after.text
        acknowledged = {*load.acknowledged, after.json()["id"]}
        assert acknowledged <= await listed_ids(client, ada)  # the worker projects again
        assert acknowledged <= logged_ids(private_pg.url, pg_schemas["database_schema"])
    assert [server.process.poll() for server in processes] == [None, None, None]  # none died
