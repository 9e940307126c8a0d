"""What the race tests share: `bitstride dev` on Postgres, bursts of concurrent requests, a
validated dataset, and which request wrote which version of an aggregate.

The server is a real uvicorn subprocess; the test process opens its own applications on the
same Postgres schemas, to play the worker (the deployment controller, a job's executor) while
requests race, and to replay aggregates from the log afterwards.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import anyio
import httpx

from application.shared.base import BitstrideApplication
from infra.settings import Settings
from tests.e2e.conftest import Account, error_of, free_port, running, stores_env
from tests.support.datasets import JSONL, fixture_bytes

T = TypeVar("T")
VALIDATION_SECONDS = 20.0
REQUEST_SECONDS = 30.0


@contextmanager
def dev_on_postgres(settings: Settings, log_path: Path) -> Iterator[str]:
    """`bitstride dev` (control plane, auth service, worker) on `settings`' Postgres schemas,
    without the training scheduler and the deployment controller (the tests play them).
    Yields the base URL."""
    port = free_port()
    env = {**stores_env(settings), "TRAINING_EXECUTOR": "none", "DEPLOYMENT_CONTROLLER": "off"}
    with running(["dev", "--host", "127.0.0.1", "--port", str(port)], env, log_path) as server:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_healthy(base_url)
        yield base_url


@asynccontextmanager
async def race_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Enough connections that a burst of 50 reaches the server at once. Idle ones are dropped
    after 2 s, before uvicorn's 5 s keep-alive timeout: with equal timeouts, a connection
    reused as the server closed it failed a read (seen once in CI, a ReadError)."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_SECONDS,
                                 limits=limits) as client:
        yield client


async def burst(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run every call concurrently; their results in the calls' order."""
    results: dict[int, T] = {}

    async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
        results[index] = await call()

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(run, index, call)
    return [results[index] for index in range(len(calls))]


def error_code(response: httpx.Response) -> str:
    """The envelope's code of a 4xx/5xx answer (asserting the envelope)."""
    code: str = error_of(response, response.status_code)["code"]
    return code


def writers_of(app: BitstrideApplication, aggregate_id: UUID) -> dict[str, int]:
    """Request id -> the version its event gave the aggregate, from the stored log."""
    return {event.cause.request_id: event.originator_version
            for event in app.events.get(aggregate_id)
            if getattr(event, "cause", None) is not None and event.cause.request_id}


async def validated_dataset(client: httpx.AsyncClient, account: Account) -> str:
    """A chat dataset uploaded and validated by the server's worker (polled, bounded)."""
    created = await client.post("/v1/datasets", headers=account.headers, json={
        "name": "train", "purpose": "fine_tuning", "format": "chat"})
    assert created.status_code == 201, created.text
    dataset_id: str = created.json()["id"]
    uploaded = await client.post(f"/v1/datasets/{dataset_id}/upload",
                                 headers={**account.headers, **JSONL},
                                 content=fixture_bytes("valid_chat"))
    assert uploaded.status_code == 201, uploaded.text
    started = await client.post(f"/v1/datasets/{dataset_id}/validate", headers=account.headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + VALIDATION_SECONDS
    while True:
        dataset: dict[str, Any] = (await client.get(f"/v1/datasets/{dataset_id}",
                                                    headers=account.headers)).json()
        if dataset["status"] != "validating":
            assert dataset["status"] == "valid", dataset
            return dataset_id
        assert time.monotonic() < deadline, f"not validated after {VALIDATION_SECONDS} s"
        await anyio.sleep(0.05)
