"""The inference gateway end to end: real replicas (reference servers started by the worker's
deployment controller, or a scripted upstream), the routes through an ASGI client and through
the official `openai` client against uvicorn, in full and gateway mode, and a
`bitstride serve --mode gateway` process beside a full-mode plane sharing Postgres."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import openai
import pytest
import uvicorn

from domain.serving.status import DeploymentStatus
from domain.usage.record import UsageRecord
from infra.processes import ProcessDir
from infra.settings import RuntimeMode, Settings
from interfaces.cli.serving import DrainingServer
from interfaces.control_plane import ControlPlane
from interfaces.http.app import as_asgi, create_control_plane_app
from tests.e2e.conftest import (
    Account,
    create_project,
    error_of,
    free_port,
    in_process,
    running,
    sign_up,
    stores_env,
)
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.stub_upstream import PROMPT_TOKENS, RunningStub, running_stub
from tests.support.usage import usage_records
from tests.support.waiting import deployment_of, deployment_when

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REFERENCE = "reference-byte-lm"
STUB_MODEL = "smollm2-135m-instruct"  # a servable base model, served here by the stub
CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]
STARTUP_SECONDS = 10.0
WAIT_SECONDS = 30.0


def served(settings: Settings, **overrides: Any) -> Settings:
    return settings.with_overrides(deployment_controller=True, training_executor="local",
                                   gateway_usage_flush_seconds=0.1, **overrides)


def reap(settings: Settings) -> None:
    """Replicas run in sessions of their own and outlive the plane: kill what is left."""
    root = settings.serving_replicas_dir
    if root.exists():
        for directory in root.iterdir():
            ProcessDir(directory).signal(signal.SIGKILL)


@asynccontextmanager
async def serving(settings: Settings, mode: RuntimeMode = "full"
                  ) -> AsyncIterator[tuple[ControlPlane, httpx.AsyncClient]]:
    try:
        async with in_process(settings, mode) as (plane, client):
            yield plane, client
    finally:
        reap(settings)


@contextmanager
def live_plane(settings: Settings) -> Iterator[ControlPlane]:
    """A plane with its workers and no app yet: serve it with `live` (one app at a time, as
    each app enters the embedded auth service's lifespan)."""
    plane = ControlPlane(settings)
    try:
        plane.start_workers()
        yield plane
    finally:
        plane.close()
        reap(settings)


@contextmanager
def live(plane: ControlPlane, mode: RuntimeMode = "full") -> Iterator[str]:
    """The plane's app in `mode`, served by uvicorn in a thread: its base URL."""
    port = free_port()
    server = DrainingServer(uvicorn.Config(
        as_asgi(create_control_plane_app(plane, mode), plane.metrics), host="127.0.0.1",
        port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5),
        lambda: None)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{mode}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)


async def deploy(client: httpx.AsyncClient, account: Account, model: str = REFERENCE,
                 **body: Any) -> str:
    response = await client.post("/v1/deployments", headers=account.headers, json={
        "model": model, "backend": "reference", **body})
    assert response.status_code == 201, response.text
    dep_id: str = response.json()["id"]
    return dep_id


async def deploy_stub(client: httpx.AsyncClient, account: Account, stub: RunningStub,
                      **body: Any) -> str:
    return await deploy(client, account, STUB_MODEL, backend="upstream",
                        upstream_url=stub.url, **body)


async def ready(plane: ControlPlane, dep_id: str, replicas: int = 1) -> None:
    await anyio.to_thread.run_sync(lambda: deployment_when(
        plane, dep_id, lambda d: d.status is DeploymentStatus.READY
        and len(d.ready_replicas) >= replicas))


async def routed(plane: ControlPlane, account: Account, model: str, replicas: int = 1,
                 *, seconds: float = WAIT_SECONDS) -> float:
    """Seconds until the routing table has `replicas` ready replicas of the model (0: gone)."""
    started = time.monotonic()
    org = account.org_id.removeprefix("org_")
    while True:
        route = plane.routing.snapshot.lookup(org, model)
        if (len(route.targets) if route else 0) == replicas:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, (model, route)
        await anyio.sleep(0.005)


def chat(model: str = REFERENCE, **body: Any) -> dict[str, Any]:
    return {"model": model, "messages": HI, "max_tokens": 8, "temperature": 0, **body}


def events(text: str) -> list[Any]:
    """The `data` of each server-sent event: JSON objects, or "[DONE]"."""
    found: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            found.append(data if data == "[DONE]" else json.loads(data))
    return found


def usage_of(plane: ControlPlane, request_id: str, *,
             seconds: float = WAIT_SECONDS) -> dict[str, UsageRecord]:
    """The request's two usage records by meter, once the meter has flushed them."""
    deadline = time.monotonic() + seconds
    while True:
        found = {record.meter.value: record for record in usage_records(plane)
                 if record.source_id == request_id}
        if len(found) == 2:
            return found
        assert time.monotonic() < deadline, f"no usage for {request_id}: {found}"
        time.sleep(0.05)


def wait_for_records(plane: ControlPlane, key_id: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while len([r for r in usage_records(plane) if r.api_key_id == key_id]) < count:
        assert time.monotonic() < deadline, f"fewer than {count} usage records of {key_id}"
        time.sleep(0.05)


def tokens(records: dict[str, UsageRecord]) -> tuple[int, int]:
    return (records["inference.input_tokens"].quantity,
            records["inference.output_tokens"].quantity)


# -- the routes -------------------------------------------------------------------------------


async def test_chat_completions_and_embeddings_through_the_gateway(
        backend_settings: Settings) -> None:
    async with serving(served(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        dep_id = await deploy(client, ada)
        await ready(plane, dep_id)
        await routed(plane, ada, REFERENCE)
        key = await make_key(client, ada, ["inference:write"])
        model_id = deployment_of(plane, dep_id).model

        plain = await client.post(CHAT, headers=bearer(key), json=chat())
        assert plain.status_code == 200, plain.text
        answer = plain.json()
        assert answer["object"] == "chat.completion"
        assert answer["model"] == REFERENCE  # the upstream's `model`, as it answered
        assert answer["usage"]["completion_tokens"] >= 1
        by_id = await client.post(CHAT, headers=bearer(key), json=chat(model_id))
        assert by_id.status_code == 200, by_id.text

        quiet = await client.post(CHAT, headers=bearer(key), json=chat(stream=True))
        assert quiet.status_code == 200, quiet.text
        assert quiet.headers["content-type"].startswith("text/event-stream")
        chunks = events(quiet.text)
        assert chunks[-1] == "[DONE]"
        assert all(chunk["choices"] for chunk in chunks[:-1])  # no usage chunk: not asked
        told = await client.post(CHAT, headers=bearer(key), json=chat(
            stream=True, stream_options={"include_usage": True}))
        told_chunks = events(told.text)
        assert told_chunks[-1] == "[DONE]"
        assert told_chunks[-2]["choices"] == [] and told_chunks[-2]["usage"]["total_tokens"]

        text = await client.post("/v1/completions", headers=bearer(key), json={
            "model": REFERENCE, "prompt": "Once", "max_tokens": 4})
        assert text.status_code == 200, text.text
        assert text.json()["object"] == "text_completion"

        embedding = await client.post("/v1/embeddings", headers=bearer(key),
                                      json={"model": REFERENCE, "input": "a"})
        error = error_of(embedding, 400, "unsupported_model")
        assert "does not support embeddings" in error["message"]
        assert error["param"] == "model"
        refused = await client.post(CHAT, headers=bearer(key), json=chat(n=2))
        assert error_of(refused, 400)["param"] == "n"  # the replica's own validation

        # Metered with the upstream's own counts, once per request.
        records = usage_of(plane, plain.headers["x-request-id"])
        usage = answer["usage"]
        assert tokens(records) == (usage["prompt_tokens"], usage["completion_tokens"])
        record = records["inference.output_tokens"]
        assert (record.model, record.deployment_id, record.api_key_id) == (
            model_id, dep_id, key["id"])
        assert record.attributes["status"] == 200 and record.attributes["streamed"] is False
        streamed = usage_of(plane, told.headers["x-request-id"])
        assert tokens(streamed) == (told_chunks[-2]["usage"]["prompt_tokens"],
                                    told_chunks[-2]["usage"]["completion_tokens"])
        assert streamed["inference.input_tokens"].attributes["streamed"] is True
        quiet_usage = usage_of(plane, quiet.headers["x-request-id"])
        assert tokens(quiet_usage)[0] == usage["prompt_tokens"]  # same prompt, usage stripped
        assert usage_of(plane, embedding.headers["x-request-id"])[
            "inference.input_tokens"].attributes["status"] == 400
        # A client's own X-Request-ID may repeat: each request is metered under its own id.
        for _ in range(2):
            again = await client.post(CHAT, json=chat(), headers={
                **bearer(key), "X-Request-ID": "client-chosen-id"})
            assert again.headers["x-request-id"] == "client-chosen-id"
        await anyio.to_thread.run_sync(lambda: wait_for_records(plane, key["id"], 2 * 9))
        assert not [r for r in usage_records(plane) if r.source_id == "client-chosen-id"]

        metrics = (await client.get("/metrics")).text
        assert f'bitstride_gateway_requests_total{{model="{REFERENCE}",status="200"}} 7.0' \
            in metrics
        assert f'bitstride_gateway_tokens_total{{direction="output",model="{REFERENCE}"}}' \
            in metrics
        assert "bitstride_gateway_overhead_seconds_count 9.0" in metrics


async def test_who_may_call_which_model(sqlite_settings: Settings) -> None:
    async with serving(served(sqlite_settings)) as (plane, client):
        ada, bob = await sign_up(client, "ada"), await sign_up(client, "bob")
        mine = await create_project(client, ada, "mine")
        other = await create_project(client, ada, "other")
        dep_id = await deploy(client, ada, project_id=mine["id"])
        await ready(plane, dep_id)
        await routed(plane, ada, REFERENCE)

        assert (await client.post(CHAT, headers=ada.headers, json=chat())).status_code == 200
        unknown = await client.post(CHAT, headers=ada.headers, json=chat("no-such-model"))
        assert error_of(unknown, 404, "model_not_found")["param"] == "model"
        no_scope = await make_key(client, ada, ["models:read", "deployments:write"])
        error = error_of(await client.post(CHAT, headers=bearer(no_scope), json=chat()), 403,
                         "insufficient_scope")
        assert "inference:write" in error["message"]
        bobs = await make_key(client, bob, ["all"])
        model_id = deployment_of(plane, dep_id).model
        for model in (REFERENCE, model_id):  # another organization's deployment: no route
            error_of(await client.post(CHAT, headers=bearer(bobs), json=chat(model)), 404,
                     "model_not_found")

        in_mine = await make_key(client, ada, ["inference:write"], project_id=mine["id"])
        in_other = await make_key(client, ada, ["inference:write"], project_id=other["id"])
        assert (await client.post(CHAT, headers=bearer(in_mine),
                                  json=chat())).status_code == 200
        error_of(await client.post(CHAT, headers=bearer(in_other), json=chat()), 404,
                 "model_not_found")
        # A deployment of no project serves every project's keys.
        shared = await deploy(client, ada)
        await ready(plane, shared)
        await routed(plane, ada, REFERENCE, replicas=2)
        answered = await client.post(CHAT, headers=bearer(in_other), json=chat())
        assert answered.status_code == 200, answered.text
        record = usage_of(plane, answered.headers["x-request-id"])["inference.input_tokens"]
        assert record.deployment_id == shared
        assert record.project_id is not None and record.project_id.hex == \
            other["id"].removeprefix("proj_")


async def test_rate_limited_requests_get_429_with_retry_after(
        sqlite_settings: Settings) -> None:
    async with serving(served(sqlite_settings, gateway_key_rpm=2)) as (plane, client):
        ada = await sign_up(client)
        dep_id = await deploy(client, ada)
        await ready(plane, dep_id)
        await routed(plane, ada, REFERENCE)
        key = await make_key(client, ada, ["inference:write"])
        for _ in range(2):
            assert (await client.post(CHAT, headers=bearer(key),
                                      json=chat())).status_code == 200
        limited = await client.post(CHAT, headers=bearer(key), json=chat())
        error = error_of(limited, 429, "rate_limited")
        assert error["type"] == "rate_limit_error"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        other_key = await make_key(client, ada, ["inference:write"])  # limits are per key
        assert (await client.post(CHAT, headers=bearer(other_key),
                                  json=chat())).status_code == 200


async def test_the_table_follows_deployments_without_a_restart(
        backend_settings: Settings) -> None:
    async with serving(served(backend_settings)) as (plane, client):
        ada = await sign_up(client)
        key = await make_key(client, ada, ["inference:write"])
        error_of(await client.post(CHAT, headers=bearer(key), json=chat()), 404,
                 "model_not_found")
        dep_id = await deploy(client, ada)
        await ready(plane, dep_id)
        await anyio.to_thread.run_sync(lambda: plane.await_projections(
            plane.serving.name, plane.serving.recorder.max_notification_id()))
        # Ready in the read model: routed within a second.
        assert await routed(plane, ada, REFERENCE, seconds=1.0) < 1.0
        assert (await client.post(CHAT, headers=bearer(key), json=chat())).status_code == 200

        stop = await client.put(f"/v1/deployments/{dep_id}", headers=ada.headers,
                                json={"desired_state": "stopped"})
        assert stop.status_code == 200, stop.text
        assert await routed(plane, ada, REFERENCE, replicas=0, seconds=1.0) < 1.0
        error_of(await client.post(CHAT, headers=bearer(key), json=chat()), 404,
                 "model_not_found")


async def test_a_killed_replica_fails_over_before_the_controller_notices(
        sqlite_settings: Settings) -> None:
    async with serving(served(sqlite_settings)) as (plane, client):
        ada = await sign_up(client)
        key = await make_key(client, ada, ["inference:write"])
        dep_id = await deploy(client, ada, min_replicas=2)
        await ready(plane, dep_id, replicas=2)
        await routed(plane, ada, REFERENCE, replicas=2)
        # The controller stops watching, so the table keeps the dead replica for good.
        controller = next(r for r in plane.process_managers
                          if r.name == "deployment-controller")
        controller.stop()
        victim = next(iter(deployment_of(plane, dep_id).ready_replicas))
        ProcessDir(plane.settings.serving_replicas_dir / victim).signal(signal.SIGKILL)
        await anyio.sleep(0.2)  # the process is gone (its port refuses connections)

        for _ in range(8):
            answer = await client.post(CHAT, headers=bearer(key), json=chat(stream=True))
            assert answer.status_code == 200, answer.text
            assert events(answer.text)[-1] == "[DONE]"
        assert len(plane.routing.snapshot.lookup(
            ada.org_id.removeprefix("org_"), REFERENCE).targets) == 2
        assert deployment_of(plane, dep_id).status is DeploymentStatus.READY


# -- the official client over a real socket ------------------------------------------------


async def test_the_openai_client_in_full_and_gateway_mode(sqlite_settings: Settings) -> None:
    with live_plane(served(sqlite_settings)) as plane:
        with live(plane, "full") as full:
            async with httpx.AsyncClient(base_url=full, timeout=10) as client:
                ada = await sign_up(client)
                dep_id = await deploy(client, ada)
                await ready(plane, dep_id)
                await routed(plane, ada, REFERENCE)
                key = (await make_key(client, ada, ["inference:write"]))["key"]
                reader = (await make_key(client, ada, ["read"]))["key"]
            await check_with_openai(full, key)
        # A gateway-mode process of its own (no workers) on the same store, as in production.
        gateway_plane = ControlPlane(plane.settings)
        try:
            await gateway_mode_checks(gateway_plane, key, reader, ada, dep_id)
        finally:
            gateway_plane.close()


async def gateway_mode_checks(plane: ControlPlane, key: str, reader: str, ada: Account,
                              dep_id: str) -> None:
    """The models a key can call, scopes and keys-only, and readiness, in gateway mode."""
    with live(plane, "gateway") as gateway:
        await check_with_openai(gateway, key)
        async with openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=key,
                                      max_retries=0) as caller:
            models = await caller.models.list()
            assert [(m.id, m.owned_by) for m in models.data] == [(REFERENCE, "bitstride")]
            assert (await caller.models.retrieve(REFERENCE)).id == REFERENCE
            with pytest.raises(openai.NotFoundError):
                await caller.models.retrieve("no-such-model")
        async with openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=reader,
                                      max_retries=0) as read_only:
            assert len((await read_only.models.list()).data) == 1  # listing needs read
            with pytest.raises(openai.PermissionDeniedError):
                await read_only.chat.completions.create(model=REFERENCE, messages=HI)
        async with openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=ada.access_token,
                                      max_retries=0) as user:
            with pytest.raises(openai.AuthenticationError) as refused:
                await user.models.list()
            assert refused.value.code == "invalid_api_key"  # gateway mode: keys only
        async with httpx.AsyncClient(base_url=gateway) as http:
            readiness = (await http.get("/ready")).json()
            assert readiness["checks"]["routing"] == "ok"
            assert readiness["deployments"] == [
                {"id": dep_id, "model": REFERENCE, "ready_replicas": 1}]


async def check_with_openai(base_url: str, key: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key,
                                  max_retries=0) as caller:
        answer = await caller.chat.completions.create(
            model=REFERENCE, messages=HI, max_tokens=6, temperature=0)
        assert answer.usage is not None and answer.usage.completion_tokens >= 1
        assert answer.choices[0].message.role == "assistant"

        stream = await caller.chat.completions.create(
            model=REFERENCE, messages=HI, max_tokens=6, stream=True)
        chunks = [chunk async for chunk in stream]
        assert chunks and all(chunk.choices and chunk.usage is None for chunk in chunks)
        stream = await caller.chat.completions.create(
            model=REFERENCE, messages=HI, max_tokens=6, stream=True,
            stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens >= 1

        text = await caller.completions.create(model=REFERENCE, prompt="Once", max_tokens=4)
        assert text.usage is not None and text.usage.prompt_tokens == 4
        with pytest.raises(openai.BadRequestError) as error:
            await caller.embeddings.create(model=REFERENCE, input="a")
        assert error.value.code == "unsupported_model"
        with pytest.raises(openai.NotFoundError) as missing:
            await caller.chat.completions.create(model="nope", messages=HI)
        assert missing.value.code == "model_not_found"


# -- timeouts, stalls, failures and disconnects (a scripted upstream) -----------------------


TIGHT = {"gateway_keepalive_seconds": 0.1, "gateway_chunk_timeout_seconds": 0.6,
         "gateway_first_byte_timeout_seconds": 0.6, "gateway_total_timeout_seconds": 3.0}


async def test_keep_alives_stalls_timeouts_failures_and_disconnects(
        sqlite_settings: Settings) -> None:
    with live_plane(served(sqlite_settings, **TIGHT)) as plane, \
            running_stub(free_port()) as good, running_stub(free_port()) as bad, \
            live(plane) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            ada = await sign_up(client)
            key = await make_key(client, ada, ["inference:write"])
            first = await deploy_stub(client, ada, good)
            second = await deploy_stub(client, ada, bad)
            for dep_id in (first, second):
                await ready(plane, dep_id)
            await routed(plane, ada, STUB_MODEL, replicas=2)
            client.headers.update(bearer(key))
            await stub_checks(plane, client, good, bad)


def stub_chat(mode: str, **body: Any) -> dict[str, Any]:
    return {"model": STUB_MODEL, "messages": [{"role": "user", "content": mode}], **body}


async def stub_checks(plane: ControlPlane, http: httpx.AsyncClient, good: RunningStub,
                      bad: RunningStub) -> None:
    # A 5xx before anything was sent fails over to the other replica.
    bad.stub.failing = True
    for stream in (False, True) * 3:
        answer = await http.post(CHAT, json=stub_chat("ok", stream=stream))
        assert answer.status_code == 200, answer.text
    assert len(bad.stub.requests) >= 2  # it was tried, and failed over from
    bad.stub.failing = False
    failing = await http.post(CHAT, json=stub_chat("fail"))  # fails on both
    assert error_of(failing, 502, "upstream_error")["type"] == "server_error"
    assert len([r for r in good.stub.requests + bad.stub.requests
                if r["messages"][-1]["content"] == "fail"]) == 2

    # Silence before the first byte: 504; silence mid-stream: keep-alives, then the end.
    silent = await http.post(CHAT, json=stub_chat("silent", stream=True))
    error_of(silent, 504, "upstream_timeout")
    started = time.monotonic()
    stalled = await http.post(CHAT, json=stub_chat("stall", stream=True))
    assert stalled.status_code == 200
    assert 0.6 <= time.monotonic() - started < 3.0
    lines = stalled.text.splitlines()
    assert lines.count(": keep-alive") >= 3
    assert "data: [DONE]" not in lines  # ended by the gateway: nothing else could be sent
    stall_usage = usage_of(plane, stalled.headers["x-request-id"])
    assert stall_usage["inference.output_tokens"].attributes["status"] == 504
    assert tokens(stall_usage)[1] == 1  # one content chunk reached the client

    # The client leaves mid-stream: the upstream request is closed, the usage says 499.
    async with http.stream("POST", CHAT, json=stub_chat("slow", stream=True)) as stream:
        request_id = stream.headers["x-request-id"]
        seen = 0
        async for line in stream.aiter_lines():
            seen += line.startswith('data: {"id"') and '"content": "x"' in line
            if seen == 5:
                break
    left = usage_of(plane, request_id)
    assert left["inference.output_tokens"].attributes["status"] == 499
    deadline = time.monotonic() + 5  # and the replica's request was closed: it stops
    while good.stub.hung_up + bad.stub.hung_up == 0:
        assert time.monotonic() < deadline, "the upstream stream was not closed"
        await anyio.sleep(0.02)
    input_tokens, output_tokens = tokens(left)
    assert input_tokens != PROMPT_TOKENS  # no usage came: the prompt's estimate
    assert 5 <= output_tokens < 50

    # A replica that no longer listens: 502 once every replica refused.
    bad.stop()
    good.stop()
    gone = await http.post(CHAT, json=stub_chat("ok"))
    error_of(gone, 502, "upstream_unavailable")


# -- gateway mode as its own process ----------------------------------------------------------


@pytest.mark.postgres
async def test_a_gateway_process_beside_a_full_plane(postgres_settings: Settings,
                                                     tmp_path: Path) -> None:
    settings = served(postgres_settings)
    async with serving(settings) as (plane, client):
        ada = await sign_up(client)
        key = await make_key(client, ada, ["inference:write"])
        dep_id = await deploy(client, ada)
        await ready(plane, dep_id)
        port = free_port()
        with running(["serve", "--mode", "gateway", "--host", "127.0.0.1", "--port",
                      str(port)], stores_env(settings), tmp_path / "gateway.log") as gateway:
            base = f"http://127.0.0.1:{port}"
            gateway.wait_healthy(base)
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                readiness = await http.get("/ready")
                assert readiness.status_code == 200, readiness.text
                assert [d["id"] for d in readiness.json()["deployments"]] == [dep_id]
                answer = await http.post(CHAT, headers=bearer(key), json=chat())
                assert answer.status_code == 200, answer.text
                assert answer.json()["usage"]["completion_tokens"] >= 1
                # Metered by the gateway process into the shared Usage log.
                records = usage_of(plane, answer.headers["x-request-id"])
                assert tokens(records)[1] == answer.json()["usage"]["completion_tokens"]
