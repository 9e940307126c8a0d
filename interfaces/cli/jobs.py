"""`bitstride jobs watch JOB_ID`: follow a training job on a running server.

The command is an HTTP client of the control plane (`--url`, `--api-key`): it fetches the job,
then follows `GET …/jobs/{id}/events?stream=true` (server-sent events, parsed here: no extra
dependency), reconnecting with `Last-Event-ID` when the connection drops. A progress line on
stderr shows the step and the latest loss or reward; the final status goes to stdout.

Exit codes: 0 the job succeeded, 1 it failed or was cancelled, 2 a usage or HTTP error
(the server's error message is printed, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import click
import httpx

from interfaces.http.training_presenter import FINE_TUNING, RL

ROUTES = {FINE_TUNING.prefix: "/v1/fine_tuning/jobs", RL.prefix: "/v1/rl/jobs"}
TERMINAL = {"succeeded": 0, "failed": 1, "cancelled": 1}
# Metrics shown beside the progress bar, first found wins: a label for each.
SHOWN_METRICS = (("train_loss", "loss"), ("mean_reward", "reward"))
READ_TIMEOUT_SECONDS = 60.0  # the server sends a keep-alive every 15 s of silence
MAX_RECONNECTS = 8  # in a row without a message; then give up
BAR_WIDTH = 30


class WatchError(click.ClickException):
    """A usage or HTTP problem: one line on stderr, exit code 2."""

    exit_code = 2


class StreamDroppedError(Exception):
    """The server could not serve the stream right now (5xx): reconnect."""


# -- server-sent events -----------------------------------------------------------------------


@dataclass(frozen=True)
class SseMessage:
    event: str  # "message" when the server named none
    data: str
    id: str | None  # the last event id in force (it persists across messages, as in browsers)


@dataclass
class SseParser:
    """The event-stream format of the HTML spec, fed one line at a time (without its end)."""

    last_event_id: str | None = None
    _event: str = ""
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> SseMessage | None:
        """A complete message when `line` is the blank line that ends one, else None."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value or None
        return None  # `retry` and unknown fields: ignored

    def _dispatch(self) -> SseMessage | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseMessage(event=event or "message", data="\n".join(data),
                          id=self.last_event_id)


def parse_sse(lines: Iterable[str], parser: SseParser | None = None) -> Iterator[SseMessage]:
    """Messages from a stream's lines (any of CRLF, LF, CR already split off)."""
    parser = parser or SseParser()
    for line in lines:
        message = parser.feed(line.rstrip("\r\n"))
        if message is not None:
            yield message


# -- what is shown ------------------------------------------------------------------------------


@dataclass
class Progress:
    """What the progress line shows, updated from the job and its events."""

    status: str = "unknown"
    step: int = 0
    total_steps: int | None = None
    metric: tuple[str, float] | None = None  # (label, latest value)

    def from_job(self, job: dict[str, Any]) -> None:
        self.status = str(job.get("status", self.status))
        progress = job.get("progress") or {}
        self._steps(progress)

    def from_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        self._steps(data)
        # A metrics event's data are its metrics; a checkpoint's are under `metrics`.
        metrics = data if event.get("type") == "metrics" else data.get("metrics")
        for name, label in SHOWN_METRICS if isinstance(metrics, dict) else ():
            value = metrics.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.metric = (label, float(value))
                break

    def _steps(self, values: dict[str, Any]) -> None:
        if isinstance(values.get("total_steps"), int):
            self.total_steps = values["total_steps"]
        if isinstance(values.get("step"), int):
            self.step = max(self.step, values["step"])


def progress_line(progress: Progress, width: int = BAR_WIDTH) -> str:
    """`[#########-----] 3/10  30%  loss 1.2346  running` (no bar until the total is known)."""
    parts = []
    if progress.total_steps:
        done = min(progress.step, progress.total_steps) / progress.total_steps
        filled = round(done * width)
        parts.append(f"[{'#' * filled}{'-' * (width - filled)}] "
                     f"{progress.step}/{progress.total_steps} {done:4.0%}")
    else:
        parts.append(f"step {progress.step}")
    if progress.metric is not None:
        label, value = progress.metric
        parts.append(f"{label} {value:.4f}")
    parts.append(progress.status)
    return "  ".join(parts)


def final_line(job: dict[str, Any]) -> str:
    """The last word on a job: its status, and the model or the error."""
    line = f"{job.get('id', 'job')} {job.get('status')}"
    if job.get("fine_tuned_model"):
        line += f": fine_tuned_model {job['fine_tuned_model']}"
    error = job.get("error") or {}
    if error:
        line += f": {error.get('code') or 'error'}"
        if error.get("message"):
            line += f": {error['message']}"
    return line


def exit_code_for(status: str | None) -> int:
    return TERMINAL.get(status or "", 2)


class Display:
    """The progress line on a terminal (redrawn in place), or one line per change elsewhere."""

    def __init__(self, stream: TextIO, *, interactive: bool | None = None) -> None:
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self._shown = ""

    def progress(self, line: str) -> None:
        if line == self._shown:
            return
        if self.interactive:
            self.stream.write(f"\r\x1b[2K{line}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._shown = line

    def note(self, text: str) -> None:
        """A line above the progress line (an event's message)."""
        if self.interactive:
            self.stream.write(f"\r\x1b[2K{text}\n{self._shown}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and self._shown:
            self.stream.write("\n")
            self.stream.flush()


# -- the command ---------------------------------------------------------------------------------


def route_of(job_id: str) -> str:
    prefix = job_id.partition("_")[0]
    if prefix not in ROUTES:
        raise click.BadParameter(f"{job_id!r} is not a job id (ftjob_… or rljob_…).",
                                 param_hint="JOB_ID")
    return f"{ROUTES[prefix]}/{job_id}"


def error_message(response: httpx.Response) -> str:
    """The server's error envelope as one line, or the status when there is none."""
    try:
        error = response.json()["error"]
        return f"{error['message']} ({error['code']}, HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code} from {response.request.url}"


class Watcher:
    def __init__(self, client: httpx.Client, job_id: str, display: Display) -> None:
        self.client, self.job_id, self.display = client, job_id, display
        self.path = route_of(job_id)
        self.progress = Progress()
        self.parser = SseParser()  # keeps the last event id across connections
        self.received = 0

    def fetch_job(self) -> dict[str, Any]:
        response = self._request("GET", self.path)
        if response.status_code != 200:
            raise WatchError(error_message(response))
        job: dict[str, Any] = response.json()
        return job

    def run(self) -> dict[str, Any]:
        """Follow the stream until `done`, reconnecting after a drop; the final job."""
        # Only the status: the steps come from the events, replayed from the first.
        self.progress.status = str(self.fetch_job().get("status", self.progress.status))
        self.display.progress(progress_line(self.progress))
        failures = 0
        while True:
            received = self.received
            try:
                job = self._follow()
            except (httpx.TransportError, StreamDroppedError) as error:
                reason = f"{type(error).__name__}: {error}".rstrip(": ")
            else:
                if job is not None:
                    return job
                reason = "the server ended the stream early"
            failures = 1 if self.received > received else failures + 1
            if failures > MAX_RECONNECTS:
                raise WatchError(f"Lost the event stream ({reason}); gave up after "
                                 f"{MAX_RECONNECTS} attempts to reconnect.")
            pause = min(0.25 * 2 ** (failures - 1), 5.0)
            self.display.note(f"Lost the event stream ({reason}); reconnecting in {pause:g} s")
            time.sleep(pause)

    def _follow(self) -> dict[str, Any] | None:
        """One connection: messages until `done` (the job) or the end of the response."""
        headers = {"Accept": "text/event-stream"}
        if self.parser.last_event_id is not None:
            headers["Last-Event-ID"] = self.parser.last_event_id
        with self.client.stream("GET", f"{self.path}/events", params={"stream": "true"},
                                headers=headers) as response:
            if response.status_code != 200:
                response.read()
                if response.status_code >= 500:
                    raise StreamDroppedError(error_message(response))
                raise WatchError(error_message(response))
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise WatchError("The server did not answer with an event stream.")
            self.parser = SseParser(last_event_id=self.parser.last_event_id)  # no half message
            for message in parse_sse(response.iter_lines(), self.parser):
                self.received += 1
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    raise WatchError(f"Unreadable event from the server: {message.data[:200]!r}"
                                     ) from None
                if message.event == "done":
                    self.progress.from_job(payload)
                    self.display.progress(progress_line(self.progress))
                    return dict(payload)
                self.show(payload)
        return None

    def show(self, event: dict[str, Any]) -> None:
        self.progress.from_event(event)
        if event.get("type") != "metrics":
            if event.get("message"):
                self.display.note(f"{event.get('level', 'info')}: {event['message']}")
            if "step" not in (event.get("data") or {}):  # not a checkpoint: a state change
                self._refresh_status()
        self.display.progress(progress_line(self.progress))

    def _refresh_status(self) -> None:
        """Events do not carry the job's status: ask (best effort; `done` has the last)."""
        try:
            response = self.client.get(self.path)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            self.progress.status = str(response.json().get("status", self.progress.status))

    def _request(self, method: str, path: str) -> httpx.Response:
        try:
            return self.client.request(method, path)
        except httpx.TransportError as error:
            raise WatchError(f"Cannot reach {self.client.base_url}: {error}") from None


@click.group(help="Follow training jobs on a running server.")
def jobs() -> None:
    pass


@jobs.command(help="Follow a job's progress until it ends. JOB_ID is an ftjob_… or rljob_… id."
                   " Exit code 0: succeeded; 1: failed or cancelled; 2: usage or HTTP error.")
@click.argument("job_id")
@click.option("--url", envvar="BITSTRIDE_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The control plane's base URL.")
@click.option("--api-key", envvar="BITSTRIDE_API_KEY", required=True,
              help="An API key or a user's access token (sent as a Bearer token).")
def watch(job_id: str, url: str, api_key: str) -> None:
    route_of(job_id)  # a usage error before any request
    display = Display(sys.stderr)
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_SECONDS)
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                          headers={"Authorization": f"Bearer {api_key}"}) as client:
            job = Watcher(client, job_id, display).run()
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise WatchError(f"Bad --url {url!r}: {error}") from None
    finally:
        display.close()
    click.echo(final_line(job))
    raise click.exceptions.Exit(exit_code_for(job.get("status")))
