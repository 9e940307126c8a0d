"""Schemathesis against the OpenAPI documents the real processes serve (issue 9, section 1).

What every fuzz run shares: the processes (auth service, worker, control plane in full and
gateway mode, as in production: Postgres, whose NOTIFY wakes a waiting read-your-writes at
once, and Redis), the seeded tenant, and the `st run` invocation with its configuration.
The `st` command is schemathesis' stable interface (its pytest plugin does not run under
pytest 9); its report is the failure message. Runs are bounded and seeded: the same seed gives
the same cases, so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import (
    Account,
    ServerProcess,
    create_project,
    free_port,
    log_in,
    process_env,
    running,
    sign_up,
)

ST = Path(sys.executable).parent / "st"
REPO = Path(__file__).resolve().parents[2]
SEED = 20261129
MAX_EXAMPLES = 4  # fuzzing phase, per operation; the coverage phase adds its boundary cases
RUN_SECONDS = 150.0  # bound on one `st run` (full mode: about 25 s on a quiet machine)
REQUEST_SECONDS = 10  # an answer slower than this is a hang, and a failure
INTERNAL_TOKEN = "fuzz-internal-token"
BASE_MODEL = "smollm2-135m-instruct"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "error_envelope")
# Operations that end the caller's session or organization run as a second account, so that
# the main one stays signed in for everything else.
SESSION_ENDING = ("POST /v1/auth/logout", "DELETE /v1/orgs/current")


@dataclass
class Tenant:
    """What the fuzzer authenticates with, and ids that exist (path parameter -> ids)."""

    main: Account
    spare: Account  # signs in afresh for each run: a run may end its session
    api_key: str  # all scopes; never among the ids, so no fuzzed request revokes it
    ids: dict[str, list[str]]


@dataclass
class Deployment:
    full_url: str
    gateway_url: str
    auth_url: str
    tenant: Tenant


@contextmanager
def deployment(tmp: Path, stores: Mapping[str, str]) -> Iterator[Deployment]:
    """Four processes, as in production; `stores`: DATABASE_URL and the like."""
    ports = {name: free_port() for name in ("auth", "full", "gateway")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {**stores, "BITSTRIDE_DATA_DIR": str(tmp / "var"),
           "AUTH_INTERNAL_TOKEN": INTERNAL_TOKEN, "AUTH_SERVICE_URL": urls["auth"],
           "TRAINING_EXECUTOR": "none", "DEPLOYMENT_CONTROLLER": "off"}
    commands = {
        "auth": ["auth", "serve", "--port", str(ports["auth"])],
        "worker": ["worker"],
        "full": ["serve", "--mode", "full", "--port", str(ports["full"])],
        "gateway": ["serve", "--mode", "gateway", "--port", str(ports["gateway"])],
    }
    with ExitStack() as stack:  # stopped in reverse order
        def start(name: str) -> ServerProcess:
            return stack.enter_context(running(commands[name], env, tmp / f"{name}.log"))

        # One at a time on the event store's schema: processes that create its tables at the
        # same moment collide in Postgres' catalog ("tuple concurrently updated"). The auth
        # service has a schema of its own.
        auth, worker = start("auth"), start("worker")
        worker.wait_for_output("worker running")
        for name in ("full", "gateway"):
            start(name).wait_healthy(urls[name])
        auth.wait_healthy(urls["auth"])
        tenant = asyncio.run(seed(urls["full"]))
        yield Deployment(urls["full"], urls["gateway"], urls["auth"], tenant)


async def seed(base_url: str) -> Tenant:
    """Two accounts and a few real objects, through the public API."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        main, spare = await sign_up(client, "fuzz"), await sign_up(client, "spare")
        project = await create_project(client, main, "fuzzed")

        async def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(path, headers=main.headers, json=body)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

        dataset = await create("/v1/datasets", {"name": "fuzzed", "purpose": "fine_tuning",
                                                "format": "chat"})
        model = await create("/v1/models", {"name": "fuzzed", "base_model": BASE_MODEL,
                                            "weights_uri": "s3://weights/fuzzed"})
        shown_key = await create("/v1/api_keys", {"name": "fuzzed", "scopes": ["read"]})
        gateway_key = await create("/v1/api_keys", {"name": "gateway", "scopes": ["all"]})
    return Tenant(main=main, spare=spare, api_key=gateway_key["key"], ids={
        "project_id": [project["id"]], "dataset_id": [dataset["id"]],
        "model_id": [model["id"]], "model": [model["id"], BASE_MODEL],
        "key_id": [shown_key["id"]]})


async def _signed_in_again(base_url: str, account: Account) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        token: str = (await log_in(client, account.email))["access_token"]
        return token


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Internal-Token": INTERNAL_TOKEN}


def _toml_table(values: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()) + " }"


def config_toml(tokens: Mapping[str, str]) -> str:
    """`tokens`: "main" for every request, "spare" for SESSION_ENDING, "api_key" for inference
    (which takes nothing else)."""
    checks = "\n".join(f"{name} = {{ enabled = true }}" for name in CHECKS)
    return f"""
seed = {SEED}
workers = 1  # two halve the time, but hypothesis then trips a CPython 3.11 AST bug
request-timeout = {REQUEST_SECONDS}
max-stream-events = 5
hooks = "tests.faults.fuzz_hooks"
headers = {_toml_table(_headers(tokens["main"]))}

[cache]
enabled = false

[warnings]
fail-on = ["missing_auth"]

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"

[phases.stateful]
enabled = false

[checks]
enabled = false
{checks}

[[operations]]
include-name = {json.dumps(list(SESSION_ENDING))}
headers = {_toml_table(_headers(tokens["spare"]))}

[[operations]]
include-tag = "Inference"
headers = {_toml_table(_headers(tokens["api_key"]))}
"""


def fuzz(target_url: str, deployed: Deployment, tmp: Path, *, api_key: bool = False) -> None:
    """`st run` against the target's served document; fails with schemathesis' report.
    `api_key`: every request carries the API key (the gateway) instead of a user token."""
    tenant = deployed.tenant
    spare = asyncio.run(_signed_in_again(deployed.full_url, tenant.spare))
    main = tenant.api_key if api_key else tenant.main.access_token
    config = tmp / "schemathesis.toml"
    config.write_text(config_toml({"main": main, "spare": spare, "api_key": tenant.api_key}))
    env = process_env({"FUZZ_SEEDED_IDS": json.dumps(tenant.ids), "NO_COLOR": "1"})
    result = subprocess.run(
        [str(ST), "--config-file", str(config), "run", f"{target_url}/schema/openapi.json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_SECONDS, check=False)
    assert result.returncode == 0, (f"schemathesis found failures:\n{result.stdout[-20000:]}"
                                    f"\n{result.stderr[-3000:]}")
