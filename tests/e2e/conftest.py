"""End-to-end fixtures: real `bitstride` processes behind uvicorn, and the same app in-process.

The real-server fixtures start the `bitstride` command as a subprocess on a free port, wait
(bounded) until it answers, yield its base URL, then SIGTERM it and wait for it to exit.

The in-process fixtures talk to the outermost ASGI layer (`as_asgi`: request ids, metrics)
through httpx's ASGI transport. That transport sends no lifespan events, so the helpers enter
the Litestar app's `lifespan()` themselves and start/stop the plane's workers around it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from infra.settings import RuntimeMode, Settings
from interfaces.control_plane import ControlPlane
from interfaces.http.app import as_asgi, create_control_plane_app

BITSTRIDE = Path(sys.executable).parent / "bitstride"
PASSWORD = "correct horse battery staple"
STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 15.0
ERROR_FIELDS = {"code", "message", "type", "param", "request_id"}

# Every variable `load_settings` reads: a subprocess gets only what its test gives it.
SETTINGS_VARIABLES = {
    "BITSTRIDE_HOST", "BITSTRIDE_PORT", "AUTH_PORT", "AUTH_HOST", "BITSTRIDE_MODE", "LOG_FORMAT",
    "LOG_LEVEL", "HTTP_THREADS", "BITSTRIDE_DATA_DIR", "DATABASE_URL", "DATABASE_SCHEMA",
    "READ_MODEL_SCHEMA",
    "AUTH_DATABASE_URL", "AUTH_DATABASE_SCHEMA", "AUTH_SERVICE_URL", "AUTH_INTERNAL_TOKEN",
    "REDIS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "ACCESS_TOKEN_TTL_SECONDS",
    "REFRESH_TOKEN_TTL_SECONDS", "AUTH_SIGNING_KEY_FILE", "MAX_BODY_BYTES",
    "READ_YOUR_WRITES_TIMEOUT_SECONDS", "READY_MAX_LAG", "PUBLIC_URL",
    "TRAINING_CAPACITY", "TRAINING_EXECUTOR", "TRAINING_ORG_CONCURRENCY",
    "TRAINING_HEARTBEAT_SECONDS", "TRAINING_WORK_DIR", "DEPLOYMENT_CONTROLLER",
    "SERVING_WORK_DIR", "REPLICA_READY_TIMEOUT_SECONDS",
    "GATEWAY_CONNECT_TIMEOUT_SECONDS", "GATEWAY_FIRST_BYTE_TIMEOUT_SECONDS",
    "GATEWAY_CHUNK_TIMEOUT_SECONDS", "GATEWAY_TOTAL_TIMEOUT_SECONDS",
    "GATEWAY_KEEPALIVE_SECONDS", "GATEWAY_POOL_SIZE", "PRICE_BOOK_FILE",
    "BILLING_CLOSE_GRACE_SECONDS",
}


# -- helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update({"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def stores_env(settings: Settings) -> dict[str, str]:
    """The variables that put a subprocess on the stores of Postgres `settings`."""
    return {"BITSTRIDE_DATA_DIR": str(settings.data_dir),
            "DATABASE_URL": str(settings.database_url),
            "AUTH_DATABASE_URL": str(settings.auth_database_url),
            "DATABASE_SCHEMA": settings.database_schema,
            "READ_MODEL_SCHEMA": settings.read_model_schema,
            "AUTH_DATABASE_SCHEMA": settings.auth_database_schema}


def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60.0
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BITSTRIDE), *args], env=process_env(env), capture_output=True,
                          text=True, timeout=timeout, check=False)


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the response is `status` in the one error envelope, and return its `error`."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "type", "param"} <= set(error) <= ERROR_FIELDS | {
        "current_state", "allowed_actions"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    """A registered, logged-in user and the personal organization opened for them."""

    email: str
    user_id: str
    org_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_up(client: httpx.AsyncClient, label: str = "ada",
                  name: str = "Ada Lovelace") -> Account:
    """Register, then log in: the account and its bearer token."""
    email = unique_email(label)
    registered = await client.post("/v1/auth/register",
                                   json={"email": email, "password": PASSWORD, "name": name})
    assert registered.status_code == 201, registered.text
    user = registered.json()
    tokens = await log_in(client, email)
    return Account(email=email, user_id=user["id"], org_id=user["organization_id"],
                   access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])


async def log_in(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def create_project(client: httpx.AsyncClient, account: Account, name: str,
                         **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/projects", headers=account.headers,
                                 json={"name": name, **fields})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


# -- real processes --------------------------------------------------------------------------


class ServerProcess:
    """One `bitstride ...` subprocess, its output in a log file for failure messages."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args, self.log_path = args, log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen([str(BITSTRIDE), *args], env=process_env(env),
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def wait_until(self, ready: Any, what: str) -> None:
        """Poll `ready()` until true; fail fast if the process dies, or after the deadline."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"`bitstride {' '.join(self.args)}` exited with "
                            f"{self.process.returncode} before {what}:\n{self.output()}")
            if ready():
                return
            time.sleep(0.05)
        pytest.fail(f"`bitstride {' '.join(self.args)}`: no {what} within "
                    f"{STARTUP_SECONDS}s:\n{self.output()}")

    def wait_healthy(self, base_url: str) -> None:
        def answers() -> bool:
            try:
                return httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        self.wait_until(answers, f"answer on {base_url}/health")

    def wait_for_output(self, text: str) -> None:
        self.wait_until(lambda: text in self.log_path.read_text(errors="replace"),
                        f"{text!r} in its output")

    def stop(self) -> int:
        """SIGTERM, then wait; a process that ignores it is killed and reported."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self._log.close()
                pytest.fail(f"`bitstride {' '.join(self.args)}` ignored SIGTERM for "
                            f"{SHUTDOWN_SECONDS}s:\n{self.output()}")
        self._log.close()
        return self.process.returncode


@contextmanager
def running(args: list[str], env: Mapping[str, str], log_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(args, env, log_path)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class DevServer:
    base_url: str
    data_dir: Path
    process: ServerProcess


@contextmanager
def dev_process(tmp_path: Path, workers: str) -> Iterator[DevServer]:
    """`workers`: "on" runs the training scheduler and the deployment controller."""
    port = free_port()
    data_dir = tmp_path / "var"
    with running(["dev", "--host", "127.0.0.1", "--port", str(port)],
                 {"BITSTRIDE_DATA_DIR": str(data_dir),
                  "TRAINING_EXECUTOR": "local" if workers == "on" else "none",
                  "DEPLOYMENT_CONTROLLER": workers}, tmp_path / "dev.log") as server:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_healthy(base_url)
        yield DevServer(base_url, data_dir, server)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    """`bitstride dev` (control plane + auth service + worker) under uvicorn, SQLite in tmp.
    No training scheduler: job tests play the worker by hand (tests/support/training.py)."""
    with dev_process(tmp_path, "off") as server:
        yield server


@pytest.fixture
def training_dev_server(tmp_path: Path) -> Iterator[DevServer]:
    """`bitstride dev` as `make run` starts it: jobs train on the reference trainer."""
    with dev_process(tmp_path, "on") as server:
        yield server


# -- in process ------------------------------------------------------------------------------

def build_app(plane: ControlPlane, mode: RuntimeMode = "full") -> Litestar:
    return create_control_plane_app(plane, mode)


@asynccontextmanager
async def asgi_client(plane: ControlPlane, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `as_asgi(app)`, inside the app's lifespan (the transport sends none)."""
    transport = httpx.ASGITransport(app=as_asgi(app, plane.metrics))
    async with app.lifespan(), httpx.AsyncClient(transport=transport,
                                                 base_url="http://test") as client:
        yield client


@asynccontextmanager
async def in_process(settings: Settings, mode: RuntimeMode = "full", *, workers: bool = True
                     ) -> AsyncIterator[tuple[ControlPlane, httpx.AsyncClient]]:
    """A whole `bitstride dev` in this process: plane, workers, app and a client."""
    plane = ControlPlane(settings)
    try:
        if workers:
            plane.start_workers()
        async with asgi_client(plane, build_app(plane, mode)) as client:
            yield plane, client
    finally:
        plane.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """The embedded SQLite defaults and a real Postgres (fresh schemas), one test each."""
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings


@pytest.fixture
def plane(backend_settings: Settings) -> Iterator[ControlPlane]:
    plane = ControlPlane(backend_settings)
    plane.start_workers()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def app(plane: ControlPlane) -> Litestar:
    return build_app(plane, "full")


@pytest.fixture
async def client(plane: ControlPlane, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(plane, app) as client:
        yield client


@pytest.fixture(autouse=True, scope="session")
def no_stray_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Reference-server replicas outlive their worker by design; a test that leaves a
    deployment running would leave its replicas behind. End those of this session's data
    directories once the tests are done."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for replica in (Path(f"/proc/{pid}") for pid in os.listdir("/proc") if pid.isdigit()):
        try:
            command = (replica / "cmdline").read_bytes()
        except OSError:
            continue
        if b"infra.reference.server" in command and base.encode() in command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(replica.name), signal.SIGKILL)
