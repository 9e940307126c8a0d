"""The reference server as the deployment controller runs it: a subprocess on a free port."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[3]
MODEL = "ref"
STARTUP_SECONDS = 20


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0,
                             timeout=10)

    def logs(self) -> str:
        return self.log.read_text()


def read_line(process: subprocess.Popen[str], seconds: float) -> str:
    """The next stdout line, failing (not hanging) if none comes in time."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    if not ready:
        raise AssertionError(f"no line on stdout within {seconds} s")
    return process.stdout.readline()


@contextlib.contextmanager
def reference_server(log_dir: Path, *arguments: str) -> Iterator[RunningServer]:
    """`python -m infra.reference.server ARGUMENTS --model-name ref --port 0`, stopped after."""
    log = log_dir / f"server-{time.monotonic_ns()}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.reference.server", *arguments, "--model-name", MODEL,
             "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = read_line(process, STARTUP_SECONDS)
        assert line, f"the server exited before listening:\n{log.read_text()}"
        announced = json.loads(line)
        assert announced["type"] == "listening"
        yield RunningServer(process, announced["port"], log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="session")
def base_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server of the untrained base model, shared by the tests that only send requests."""
    with reference_server(tmp_path_factory.mktemp("reference-server"), "--base") as server:
        yield server


@pytest.fixture
def client(base_server: RunningServer) -> openai.OpenAI:
    return base_server.client()
