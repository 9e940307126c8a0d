"""`GET …/jobs/{id}/events?stream=true` (server-sent events) and `bitstride jobs watch`, over a
real socket: uvicorn serves the app in a thread of this process, so the test can play the
scheduler and an executor on the same plane (tests/support/training.py) while it streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result

from application.training.service import TrainingService
from domain.shared.cause import SYSTEM
from domain.shared.ids import parse_id
from infra.settings import Settings
from interfaces.cli.jobs import SseMessage, SseParser, jobs, parse_sse
from interfaces.cli.serving import DrainingServer
from interfaces.control_plane import ControlPlane
from interfaces.http import job_event_stream
from interfaces.http.app import as_asgi, create_control_plane_app
from tests.e2e.conftest import Account, error_of, free_port, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.training import BASE, GRADER, dataset, drive, settle

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
JOBS = "/v1/fine_tuning/jobs"
STARTUP_SECONDS = 10.0
STREAM_SECONDS = 5.0  # the longest any stream here may take


@dataclass
class Live:
    base_url: str
    plane: ControlPlane
    server: DrainingServer
    thread: threading.Thread


@pytest.fixture
def live(backend_settings: Settings) -> Iterator[Live]:
    """The control plane with its workers, served by uvicorn on a free port."""
    plane = ControlPlane(backend_settings)
    plane.start_workers()
    port = free_port()
    # The production server class; a long grace period, so only draining ends streams fast.
    server = DrainingServer(uvicorn.Config(
        as_asgi(create_control_plane_app(plane, "full"), plane.metrics), host="127.0.0.1",
        port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=30),
        plane.begin_draining)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", plane, server, thread)
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)
        plane.close()


@pytest.fixture
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=STREAM_SECONDS) as client:
        yield client


async def new_job(http: httpx.AsyncClient, plane: ControlPlane, account: Account) -> str:
    response = await http.post(JOBS, headers=account.headers, json={
        "model": BASE, "training_file": await dataset(http, plane, account)})
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    return job_id


def run_job(training: TrainingService, job_id: str, *, steps: int = 3,
            fail: bool = False) -> None:
    """The scheduler's and an executor's commands: queue, start, report each step, end."""
    target = parse_id(job_id.partition("_")[0], job_id)
    job = training.files_validated(target, cause=SYSTEM).aggregate
    training.start(target, executor_id="test", total_steps=steps,
                   resolved_hyperparameters=job.hyperparameters, at=1_700_000_000.0,
                   cause=SYSTEM)
    for step in range(1, steps + 1):
        training.report(target, seq=step, step=step, metrics={"train_loss": 3.0 / step},
                        at=float(step), cause=SYSTEM)
    if fail:
        training.fail(target, seq=steps + 1, error={"code": "oom", "message": "Out of memory"},
                      at=1_700_000_100.0, cause=SYSTEM)
    else:
        training.succeed(target, seq=steps + 1, fine_tuned_model="ft-streamed",
                         trained_tokens=99, result_files=[], at=1_700_000_100.0, cause=SYSTEM)


async def events_list(http: httpx.AsyncClient, account: Account, job_id: str,
                      path: str = JOBS) -> list[dict[str, Any]]:
    """The list route's events, oldest first."""
    page = await http.get(f"{path}/{job_id}/events", headers=account.headers,
                          params={"limit": 100})
    assert page.status_code == 200, page.text
    return list(reversed(page.json()["data"]))


@asynccontextmanager
async def sse(http: httpx.AsyncClient, path: str, headers: dict[str, str],
              **params: str) -> AsyncIterator[AsyncIterator[SseMessage]]:
    """The stream's messages, parsed like `bitstride jobs watch` parses them."""
    async with http.stream("GET", path, headers=headers,
                           params={"stream": "true", **params}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"]

        async def messages() -> AsyncIterator[SseMessage]:
            parser = SseParser()
            async for line in response.aiter_lines():
                for message in parse_sse([line], parser):
                    yield message

        yield messages()


async def collect(http: httpx.AsyncClient, path: str, headers: dict[str, str],
                  **params: str) -> list[SseMessage]:
    """Every message until the server ends the stream (bounded)."""
    with anyio.fail_after(STREAM_SECONDS):
        async with sse(http, path, headers, **params) as messages:
            return [message async for message in messages]


def check_matches_the_list(messages: list[SseMessage], listed: list[dict[str, Any]]) -> None:
    *events, done = messages
    assert [m.id for m in events] == [e["id"] for e in listed]
    assert [m.event for m in events] == [e["type"] for e in listed]
    assert [json.loads(m.data) for m in events] == listed
    assert done.event == "done"


async def test_a_running_job_streams_live_until_done(http: httpx.AsyncClient,
                                                     live: Live) -> None:
    ada = await sign_up(http)
    job_id = await new_job(http, live.plane, ada)
    received: list[SseMessage] = []
    with anyio.fail_after(STREAM_SECONDS):
        async with sse(http, f"{JOBS}/{job_id}/events", ada.headers) as messages:
            received.append(await anext(messages))  # "Created": the job is not running yet
            async with anyio.create_task_group() as group:
                group.start_soon(anyio.to_thread.run_sync,
                                 lambda: run_job(live.plane.training, job_id, steps=3))
                received += [message async for message in messages]  # until the server ends
    assert [m.event for m in received] == ["message", "message", "message", "metrics",
                                           "metrics", "metrics", "message", "done"]
    seqs = [int(m.id.removeprefix("ftevent_")) for m in received[:-1] if m.id]
    assert seqs == sorted(set(seqs)) and len(seqs) == 7
    assert [json.loads(m.data)["data"].get("step") for m in received[3:6]] == [1, 2, 3]
    done = json.loads(received[-1].data)
    assert (done["id"], done["status"], done["fine_tuned_model"]) == (
        job_id, "succeeded", "ft-streamed")
    assert done["progress"] == {"step": 3, "total_steps": 3}
    check_matches_the_list(received, await events_list(http, ada, job_id))


async def test_resume_after_last_event_id_and_replay_of_a_finished_job(
        http: httpx.AsyncClient, live: Live) -> None:
    ada = await sign_up(http)
    job_id = await new_job(http, live.plane, ada)
    await drive(live.plane, job_id)
    listed = await events_list(http, ada, job_id)
    path = f"{JOBS}/{job_id}/events"

    started = time.monotonic()
    everything = await collect(http, path, ada.headers)  # finished: replays and ends at once
    assert time.monotonic() - started < 2.0
    check_matches_the_list(everything, listed)

    cut = listed[2]["id"]
    later = await collect(http, path, {**ada.headers, "Last-Event-ID": cut})
    check_matches_the_list(later, listed[3:])
    assert later[-1].data == everything[-1].data
    check_matches_the_list(await collect(http, path, ada.headers, after=cut), listed[3:])
    # The header wins over `after` (it is what a reconnecting EventSource sends).
    check_matches_the_list(await collect(http, path, {**ada.headers, "Last-Event-ID": cut},
                                         after=listed[0]["id"]), listed[3:])
    last = await collect(http, path, {**ada.headers, "Last-Event-ID": listed[-1]["id"]})
    assert [m.event for m in last] == ["done"]


async def test_an_rl_job_streams_on_its_own_route(http: httpx.AsyncClient, live: Live) -> None:
    ada = await sign_up(http)
    train = await dataset(http, live.plane, ada, purpose="rl", data_format="prompt")
    created = await http.post("/v1/rl/jobs", headers=ada.headers,
                              json={"model": BASE, "grader": GRADER, "training_file": train})
    job_id = created.json()["id"]
    assert (await http.post(f"/v1/rl/jobs/{job_id}/cancel", headers=ada.headers)).status_code \
        == 200
    messages = await collect(http, f"/v1/rl/jobs/{job_id}/events", ada.headers)
    check_matches_the_list(messages, await events_list(http, ada, job_id, "/v1/rl/jobs"))
    assert '"object":"rl.job"' in messages[-1].data and '"cancelled"' in messages[-1].data
    error_of(await http.get(f"{JOBS}/{job_id}/events", headers=ada.headers,
                            params={"stream": "true"}), 404, "not_found")


async def test_errors_are_json_before_the_stream(http: httpx.AsyncClient, live: Live) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    job_id = await new_job(http, live.plane, ada)
    path = f"{JOBS}/{job_id}/events"
    stream = {"stream": "true"}
    error_of(await http.get(path, headers=bob.headers, params=stream), 404, "not_found")
    error_of(await http.get(f"{JOBS}/ftjob_{'0' * 32}/events", headers=ada.headers,
                            params=stream), 404, "not_found")
    error_of(await http.get(path, params=stream), 401)
    reader = await make_key(http, ada, ["rl:read"])
    error_of(await http.get(path, headers=bearer(reader), params=stream), 403)
    for bad in ("42", "ftevent_x", "ftckpt_3", "ftevent_-1"):
        error = error_of(await http.get(path, params=stream,
                                        headers={**ada.headers, "Last-Event-ID": bad}), 400)
        assert error["param"] == "Last-Event-ID", error
    error = error_of(await http.get(path, headers=ada.headers,
                                    params={**stream, "after": "nope"}), 400)
    assert error["param"] == "after"
    error_of(await http.get(path, headers=ada.headers, params={"stream": "maybe"}), 400)


async def test_keep_alive_and_disconnect(http: httpx.AsyncClient, live: Live,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_event_stream, "KEEPALIVE_SECONDS", 0.2)
    ada = await sign_up(http)
    job_id = await new_job(http, live.plane, ada)  # validating_files: nothing happens
    await settle(live.plane)
    wakeups = job_event_stream.wakeups_for(live.plane.tracking_signal)
    seen: list[str] = []
    with anyio.fail_after(STREAM_SECONDS):
        async with http.stream("GET", f"{JOBS}/{job_id}/events", headers=ada.headers,
                               params={"stream": "true"}) as response:
            async for line in response.aiter_lines():
                seen.append(line)
                if seen.count(": keep-alive") == 2:
                    break  # and hang up
            while not wakeups._waiters:  # the stream waits for news meanwhile
                await anyio.sleep(0.01)
    assert seen[0].startswith("id: ftevent_") and seen[1] == "event: message"
    assert seen[2].startswith('data: {"id":"ftevent_')
    assert seen[3:] == ["", ": keep-alive", "", ": keep-alive"]
    # The server notices the hang-up and stops: no waiter comes back (a live stream waits
    # nearly all the time, between reads at least every 0.2 s here).
    with anyio.fail_after(2.0):
        while wakeups._waiters:
            await anyio.sleep(0.01)
    for _ in range(50):
        assert not wakeups._waiters
        await anyio.sleep(0.01)


def watch(live: Live, job_id: str, token: str) -> Result:
    return CliRunner().invoke(jobs, ["watch", job_id, "--url", live.base_url],
                              env={"BITSTRIDE_API_KEY": token})


async def test_watch_follows_a_job_to_success(http: httpx.AsyncClient, live: Live) -> None:
    ada = await sign_up(http)
    job_id = await new_job(http, live.plane, ada)
    with anyio.fail_after(STREAM_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync,
                             lambda: run_job(live.plane.training, job_id, steps=2))
            result = await anyio.to_thread.run_sync(lambda: watch(live, job_id,
                                                                  ada.access_token))
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == f"{job_id} succeeded: fine_tuned_model ft-streamed\n"
    progress = result.stderr.splitlines()
    assert "info: Job started" in progress
    assert f"[{'#' * 30}] 2/2 100%  loss 1.5000  succeeded" in progress[-2:]
    assert "Traceback" not in result.output


async def test_watch_exit_codes_for_failed_and_errors(http: httpx.AsyncClient,
                                                      live: Live) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    job_id = await new_job(http, live.plane, ada)
    await anyio.to_thread.run_sync(lambda: run_job(live.plane.training, job_id, fail=True))
    failed = await anyio.to_thread.run_sync(lambda: watch(live, job_id, ada.access_token))
    assert failed.exit_code == 1, failed.output
    assert failed.stdout == f"{job_id} failed: oom: Out of memory\n"
    other = await anyio.to_thread.run_sync(lambda: watch(live, job_id, bob.access_token))
    assert other.exit_code == 2 and other.stdout == ""
    assert f"No such job: '{job_id}'" in other.stderr and "Traceback" not in other.output
    refused = await anyio.to_thread.run_sync(lambda: watch(live, job_id, "not-a-token"))
    assert refused.exit_code == 2 and "HTTP 401" in refused.stderr
    unreachable = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(
        jobs, ["watch", job_id, "--api-key", "k", "--url", f"http://127.0.0.1:{free_port()}"]))
    assert unreachable.exit_code == 2 and "Cannot reach" in unreachable.stderr


async def test_a_stopping_server_ends_open_streams_at_once(http: httpx.AsyncClient,
                                                            live: Live) -> None:
    """SIGTERM (should_exit) with a stream open on a job that never ends: the stream closes
    without `done` (the client resumes elsewhere) and the server stops well within its
    30 s grace period, instead of waiting for the stream."""
    ada = await sign_up(http)
    job_id = await new_job(http, live.plane, ada)  # no scheduler: it stays validating_files
    with anyio.fail_after(STREAM_SECONDS):
        async with sse(http, f"{JOBS}/{job_id}/events", ada.headers) as messages:
            first = await messages.__anext__()
            assert first.event == "message"
            live.server.should_exit = True
            rest = [message async for message in messages]
    assert all(message.event != "done" for message in rest)
    await anyio.to_thread.run_sync(lambda: live.thread.join(STREAM_SECONDS))
    assert not live.thread.is_alive()
