"""The production shape on Postgres and Redis: `bitstride auth serve`, `bitstride worker` and
`bitstride serve` as separate processes, in fresh schemas that are dropped afterwards."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench.config import BenchConfig
from bench.processes import BITSTRIDE, Process, free_port
from infra.settings import Settings, load_settings

PASSWORD = "correct horse battery staple"


class Deployment:
    def __init__(self, config: BenchConfig, workdir: Path) -> None:
        self.config, self.workdir = config, workdir
        prefix = f"bench{uuid.uuid4().hex[:10]}"
        self.schemas = {"DATABASE_SCHEMA": f"{prefix}_es", "READ_MODEL_SCHEMA": f"{prefix}_rm",
                        "AUTH_DATABASE_SCHEMA": f"{prefix}_auth"}
        self.auth_url = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ, **self.schemas,
            "BITSTRIDE_DATA_DIR": str(workdir / "var"),
            "DATABASE_URL": config.database_url, "AUTH_DATABASE_URL": config.database_url,
            "AUTH_SERVICE_URL": self.auth_url, "AUTH_INTERNAL_TOKEN": secrets.token_urlsafe(24),
            "REDIS_URL": config.redis_url, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
            "TRAINING_EXECUTOR": "none", "DEPLOYMENT_CONTROLLER": "on",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, Process] = {}

    @property
    def events_schema(self) -> str:
        return self.schemas["DATABASE_SCHEMA"]

    @property
    def read_schema(self) -> str:
        return self.schemas["READ_MODEL_SCHEMA"]

    def settings(self) -> Settings:
        """The same settings the processes read, for work done in this process."""
        return load_settings(self.env)

    def start(self, name: str, *args: str) -> Process:
        process = Process([BITSTRIDE, *args], self.env, self.workdir / f"{name}.log")
        self.processes[name] = process
        return process

    def start_auth(self) -> None:
        port = self.auth_url.rsplit(":", 1)[1]
        self.start("auth", "auth", "serve", "--host", "127.0.0.1", "--port", port) \
            .wait_http(f"{self.auth_url}/health")

    def start_worker(self) -> None:
        """One worker, or with BENCH_OWN_WORKER two: one running the named projections, the
        other everything else (`bitstride worker --only/--except`)."""
        own = self.config.own_worker
        if own:
            self.start("own-worker", "worker", "--only", own).wait_output("worker running")
        self.start("worker", "worker", *(["--except", own] if own else [])) \
            .wait_output("worker running")

    def stop_workers(self) -> None:
        self.stop("own-worker")
        self.stop("worker")

    def start_api(self, name: str = "api", mode: str = "full") -> str:
        url = f"http://127.0.0.1:{free_port()}"
        self.start(name, "serve", "--mode", mode, "--host", "127.0.0.1", "--port",
                   url.rsplit(":", 1)[1]).wait_http(f"{url}/health")
        return url

    def pids(self, *names: str) -> list[int]:
        """The pids of the named processes that were started (for CPU accounting)."""
        return [self.processes[name].popen.pid for name in names if name in self.processes]

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def close(self) -> None:
        """Stop in reverse order of start, then drop the schemas."""
        for name in reversed(list(self.processes)):
            self.stop(name)
        with psycopg.connect(self.config.database_url, autocommit=True) as conn:
            for schema in self.schemas.values():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))


def sign_up_with_key(api_url: str) -> dict[str, Any]:
    """A user, their organization and an API key with every scope (`all`)."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=api_url, timeout=30) as client:
        client.post("/v1/auth/register", json={"email": email, "password": PASSWORD,
                                               "name": "Bench"}).raise_for_status()
        login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = client.post("/v1/api_keys", headers=headers, json={"name": "bench",
                                                                 "scopes": ["all"]})
        key.raise_for_status()
        created: dict[str, Any] = key.json()
        return created
