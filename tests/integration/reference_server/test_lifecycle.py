"""The server as a replica process: trained weights, disconnecting clients, SIGTERM, bad input."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from infra.reference.model import load
from infra.reference.sampling import complete
from tests.integration.reference_server.conftest import (
    MODEL,
    ROOT,
    RunningServer,
    reference_server,
)
from tests.unit.reference.factories import ANSWER, chat_rows, write_job

QUESTION: list[Any] = [{"role": "user", "content": "Question 99: what is 99 + 99?"}]


def test_it_serves_weights_the_trainer_wrote(tmp_path: Path) -> None:
    job = write_job(tmp_path, "supervised", chat_rows(), total_steps=40, checkpoint_every=40)
    trained = subprocess.run([sys.executable, "-m", "infra.reference.trainer", str(job)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    weights = json.loads(trained.stdout.splitlines()[-1])["model_path"]
    with reference_server(tmp_path, "--weights", weights) as server:
        answer = server.client().chat.completions.create(
            model=MODEL, messages=QUESTION, max_tokens=40, temperature=0)
    expected = complete(load(weights), QUESTION, max_tokens=40, temperature=0)
    assert answer.choices[0].message.content == expected.text == ANSWER
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == expected.completion_tokens == len(ANSWER) + 1


def stream_request(max_tokens: int) -> dict[str, object]:
    return {"model": MODEL, "messages": QUESTION, "max_tokens": max_tokens, "temperature": 0,
            "stream": True}


def test_a_client_leaving_mid_stream_does_not_hurt_the_server(
        base_server: RunningServer) -> None:
    url = f"{base_server.url}/v1/chat/completions"
    for _ in range(3):
        with httpx.Client(timeout=10) as http, \
                http.stream("POST", url, json=stream_request(1024)) as response:
            assert response.status_code == 200
            assert next(response.iter_lines()).startswith("data: ")
        # Leaving the block closes the connection with the answer half read.
    assert base_server.client().chat.completions.create(
        model=MODEL, messages=QUESTION, max_tokens=4).choices[0].finish_reason
    assert base_server.process.poll() is None
    log = base_server.logs()
    assert "Traceback" not in log
    assert "stream ended early" in log  # generation stopped with the client gone


def refuses_connections_soon(url: str) -> bool:
    """Whether new connections are refused within 5 s. One accepted just before the listener
    closed may be closed unanswered by the shutdown: that is not a refusal yet."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health", timeout=1)
        except httpx.ConnectError:
            return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def test_sigterm_stops_accepting_finishes_requests_in_flight_then_exits_0(
        tmp_path: Path) -> None:
    # Greedy from "x" never draws EOS: each stream is 1024 tokens, ~40 ms of generation alone.
    request = {"model": MODEL, "prompt": "x", "max_tokens": 1024, "temperature": 0,
               "stream": True}
    with reference_server(tmp_path, "--base") as server, httpx.Client(timeout=10) as http, \
            contextlib.ExitStack() as streams:
        url = f"{server.url}/v1/completions"
        responses = [streams.enter_context(http.stream("POST", url, json=request))
                     for _ in range(6)]
        lines = [response.iter_lines() for response in responses]
        assert all(next(each).startswith("data: ") for each in lines)
        server.process.send_signal(signal.SIGTERM)
        assert refuses_connections_soon(server.url)  # new connections are refused...
        for each in lines:  # ...while the answers under way are finished
            rest = [line for line in each if line]
            assert rest[-1] == "data: [DONE]"
            assert json.loads(rest[-2][len("data: "):])["choices"][0]["finish_reason"] \
                == "length"
        assert server.process.wait(timeout=15) == 0
        log = server.logs()
    assert "Traceback" not in log
    assert log.count("1 prompt + 1024 completion tokens") == 6


def test_unusable_weights_exit_2_without_listening(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_text("not weights")
    done = subprocess.run([sys.executable, "-m", "infra.reference.server", "--weights",
                           str(tmp_path / "bad.npz"), "--model-name", MODEL, "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert "Cannot read reference weights" in done.stderr
