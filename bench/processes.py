"""Real processes for the benchmarks: `bitstride` commands and helper servers, each with a log.

A process that dies or never answers stops the run with the tail of its log.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

BITSTRIDE = str(Path(sys.executable).parent / "bitstride")
START_SECONDS = 60.0
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """One child process; its output goes to `log`."""

    def __init__(self, command: list[str], env: Mapping[str, str], log: Path) -> None:
        self.command, self.log = command, log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(command, env=dict(env),  # noqa: S603
                                      stdout=self._out, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not ready():
            if self.popen.poll() is not None:
                raise SystemExit(f"bench: {' '.join(self.command)} exited before {what}:\n"
                                 f"{self.tail()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {' '.join(self.command)}: no {what}:\n{self.tail()}")
            time.sleep(0.1)

    def wait_http(self, url: str) -> None:
        def up() -> bool:
            try:
                return httpx.get(url, timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        self.wait_until(up, f"answer on {url}")

    def wait_output(self, text: str) -> None:
        self.wait_until(lambda: text in self.log.read_text(errors="replace"), repr(text))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
