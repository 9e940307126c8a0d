"""`bitstride jobs watch`: the SSE parser, the progress and final lines, usage errors."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from interfaces.cli import jobs as watch_module
from interfaces.cli.jobs import (
    Display,
    Progress,
    SseMessage,
    SseParser,
    Watcher,
    WatchError,
    exit_code_for,
    final_line,
    jobs,
    parse_sse,
    progress_line,
)


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_messages_with_ids_types_comments_and_crlf() -> None:
    wire = ("id: ftevent_3\r\nevent: metrics\r\ndata: {\"step\": 1}\r\n\r\n"
            ": keep-alive\r\n\r\n"
            "id: ftevent_4\r\ndata: {\"a\":\r\ndata: 2}\r\n\r\n"
            "event: done\r\ndata: {\"status\": \"succeeded\"}\r\n\r\n")
    assert list(parse_sse(lines(wire))) == [
        SseMessage(event="metrics", data='{"step": 1}', id="ftevent_3"),
        SseMessage(event="message", data='{"a":\n2}', id="ftevent_4"),
        SseMessage(event="done", data='{"status": "succeeded"}', id="ftevent_4")]


def test_spec_corners() -> None:
    parser = SseParser()
    # No space after the colon, unknown fields and retry ignored, a value keeping its colons.
    assert parser.feed("data:a: b") is None
    assert parser.feed("retry: 1000") is None
    assert parser.feed("whatever: x") is None
    assert parser.feed("") == SseMessage(event="message", data="a: b", id=None)
    # A message without data is not dispatched, and its event name does not leak.
    assert parser.feed("event: metrics") is None
    assert parser.feed("") is None
    assert parser.feed("data") is None  # a field name alone: empty data
    assert parser.feed("") == SseMessage(event="message", data="", id=None)
    # An id with NUL is ignored; an empty id resets it.
    parser.feed("id: ftevent_9")
    parser.feed("id: bad\0")
    parser.feed("data: x")
    assert parser.feed("") == SseMessage(event="message", data="x", id="ftevent_9")
    parser.feed("id:")
    parser.feed("data: y")
    assert parser.feed("") == SseMessage(event="message", data="y", id=None)


def test_a_half_message_at_the_end_is_not_dispatched() -> None:
    parser = SseParser()
    assert list(parse_sse(["id: ftevent_1", "data: {}"], parser)) == []
    assert parser.last_event_id == "ftevent_1"


def event(kind: str, data: dict[str, object], message: str = "") -> dict[str, object]:
    return {"type": kind, "data": data, "message": message, "level": "info"}


def test_progress_from_events_and_the_job() -> None:
    progress = Progress()
    progress.from_job({"status": "running", "progress": {"step": 0, "total_steps": None}})
    assert progress_line(progress) == "step 0  running"
    progress.from_event(event("message", {"total_steps": 4, "hyperparameters": {}}))
    progress.from_event(event("metrics", {"step": 1, "train_loss": 2.5}))
    assert progress_line(progress, width=8) == "[##------] 1/4  25%  loss 2.5000  running"
    progress.from_event(event("message", {"step": 2, "file_key": "k", "metrics": {}}))
    assert progress.step == 2 and progress.metric == ("loss", 2.5)
    progress.from_event(event("message", {"step": 2, "metrics": {"train_loss": 1.25}}))
    assert progress.metric == ("loss", 1.25)  # a checkpoint's metrics count too
    progress.from_event(event("metrics", {"step": 1, "train_loss": 9.0}))  # never backwards
    assert progress.step == 2
    progress.from_job({"status": "succeeded", "progress": {"step": 4, "total_steps": 4}})
    assert progress_line(progress, width=4) == "[####] 4/4 100%  loss 9.0000  succeeded"


def test_rl_shows_the_reward() -> None:
    progress = Progress(status="running", total_steps=10)
    progress.from_event(event("metrics", {"step": 5, "mean_reward": 0.75, "kl": 0.1}))
    assert progress_line(progress, width=10) == "[#####-----] 5/10  50%  reward 0.7500  running"


def test_final_lines_and_exit_codes() -> None:
    assert final_line({"id": "ftjob_1", "status": "succeeded",
                       "fine_tuned_model": "ft-x", "error": None}) == (
        "ftjob_1 succeeded: fine_tuned_model ft-x")
    assert final_line({"id": "rljob_2", "status": "failed", "fine_tuned_model": None,
                       "error": {"code": "oom", "message": "Out of memory", "param": None}}) == (
        "rljob_2 failed: oom: Out of memory")
    assert final_line({"id": "ftjob_3", "status": "cancelled", "error": None}) == (
        "ftjob_3 cancelled")
    assert [exit_code_for(s) for s in ("succeeded", "failed", "cancelled", "running", None)] == [
        0, 1, 1, 2, 2]


def test_display_off_a_terminal_writes_plain_lines_once_per_change() -> None:
    out = io.StringIO()
    display = Display(out)  # StringIO is no tty
    display.progress("step 1")
    display.progress("step 1")
    display.note("info: Job started")
    display.progress("step 2")
    display.close()
    assert out.getvalue() == "step 1\ninfo: Job started\nstep 2\n"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_display_on_a_terminal_redraws_in_place() -> None:
    out = io.StringIO()
    display = Display(out, interactive=True)
    display.progress("step 1")
    display.note("info: Job started")
    display.progress("step 2")
    display.close()
    assert out.getvalue() == ("\r\x1b[2Kstep 1" "\r\x1b[2Kinfo: Job started\nstep 1"
                              "\r\x1b[2Kstep 2" "\n")


def test_usage_errors_exit_2_without_a_request() -> None:
    runner = CliRunner()
    bad_id = runner.invoke(jobs, ["watch", "dep_123", "--api-key", "k"])
    assert bad_id.exit_code == 2 and "ftjob_" in bad_id.output, bad_id.output
    no_key = runner.invoke(jobs, ["watch", "ftjob_123"], env={"BITSTRIDE_API_KEY": None})
    assert no_key.exit_code == 2 and "--api-key" in no_key.output


# -- the watcher against a fake server (httpx's MockTransport: no sockets) -----------------------

JOB = {"id": "ftjob_1", "object": "fine_tuning.job", "status": "running", "error": None,
       "fine_tuned_model": None, "progress": {"step": 0, "total_steps": 2}}
DONE = {**JOB, "status": "succeeded", "fine_tuned_model": "ft-x",
        "progress": {"step": 2, "total_steps": 2}}


def sse_body(*messages: tuple[str | None, str, dict[str, object]]) -> bytes:
    out = ""
    for event_id, kind, data in messages:
        out += (f"id: {event_id}\r\n" if event_id else "") + f"event: {kind}\r\n"
        out += f"data: {json.dumps(data)}\r\n\r\n"
    return out.encode()


def stream(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"},
                          content=body)


def watcher_for(handler: Any) -> Watcher:
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://bitstride")
    return Watcher(client, "ftjob_1", Display(io.StringIO()))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_module.time, "sleep", lambda _seconds: None)


def test_the_watcher_reconnects_with_the_last_event_id() -> None:
    cursors: list[str | None] = []

    def server(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):
            return httpx.Response(200, json=JOB)
        assert request.url.params["stream"] == "true"
        cursors.append(request.headers.get("last-event-id"))
        if len(cursors) == 1:  # one event, then the connection ends early
            return stream(sse_body(("ftevent_5", "metrics", {"type": "metrics",
                                                               "data": {"step": 1}})))
        if len(cursors) == 2:
            return httpx.Response(503, json={"error": {"code": "unavailable",
                                                       "message": "Restarting"}})
        return stream(sse_body(("ftevent_6", "metrics", {"type": "metrics", "data": {
            "step": 2, "train_loss": 0.5}}), (None, "done", DONE)))

    watcher = watcher_for(server)
    assert watcher.run() == DONE
    assert cursors == [None, "ftevent_5", "ftevent_5"]
    assert (watcher.progress.step, watcher.progress.metric) == (2, ("loss", 0.5))


def test_the_watcher_gives_up_on_a_stream_that_never_ends_the_job() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return stream(b": keep-alive\r\n\r\n") if request.url.path.endswith("/events") \
            else httpx.Response(200, json=JOB)

    with pytest.raises(WatchError, match="gave up after"):
        watcher_for(server).run()


def test_an_http_error_is_the_servers_message() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {
            "code": "not_found", "message": "No such job: 'ftjob_1'.", "type": "x",
            "param": None}})

    with pytest.raises(WatchError) as raised:
        watcher_for(server).run()
    assert raised.value.message == "No such job: 'ftjob_1'. (not_found, HTTP 404)"
    assert raised.value.exit_code == 2


def test_a_server_that_does_not_stream_is_an_error() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=JOB if "/events" not in request.url.path else {
            "object": "list", "data": []})

    with pytest.raises(WatchError, match="did not answer with an event stream"):
        watcher_for(server).run()
