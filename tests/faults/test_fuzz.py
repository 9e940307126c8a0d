"""Fuzzing every route of the control plane (full and gateway mode) and of the auth service.

Schemathesis reads each process's own `/schema/openapi.json` and sends the documented examples,
boundary cases and random valid and invalid requests, authenticated, to the real processes.
No response may be a 5xx; each must have a documented status and content type and match its
documented schema; every error must be the envelope. tests/faults/fuzzing.py has the setup.

One deployment serves the three runs (starting four processes is most of the cost); each run
is a subtest, so one failing service does not hide another's report. It has a Redis server of
its own: the fuzzer fails hundreds of logins from 127.0.0.1, and on the shared server that
per-client throttle would refuse the logins of the tests after it for five minutes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.faults.fuzzing import deployment, fuzz
from tests.support.private_servers import PrivateRedis, private_redis

__all__ = ["private_redis"]  # the fixture, used by name

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.timeout(420)  # four processes and three runs: about a minute on a quiet machine
def test_every_route_of_every_process(postgres_url: str, pg_schemas: dict[str, str],
                                      private_redis: PrivateRedis, tmp_path: Path,
                                      subtests: pytest.Subtests) -> None:
    redis_url = private_redis.url
    stores = {"DATABASE_URL": postgres_url, "AUTH_DATABASE_URL": postgres_url,
              "DATABASE_SCHEMA": pg_schemas["database_schema"],
              "READ_MODEL_SCHEMA": pg_schemas["read_model_schema"],
              "AUTH_DATABASE_SCHEMA": pg_schemas["auth_database_schema"], "REDIS_URL": redis_url}
    with deployment(tmp_path, stores) as deployed:
        with subtests.test("control plane, full mode"):
            fuzz(deployed.full_url, deployed, tmp_path)
        with subtests.test("control plane, gateway mode"):
            fuzz(deployed.gateway_url, deployed, tmp_path, api_key=True)
        with subtests.test("auth service"):
            fuzz(deployed.auth_url, deployed, tmp_path)
        # The runs stayed authenticated: no fuzzed request ended the main account's session.
        still = httpx.get(f"{deployed.full_url}/v1/orgs/current",
                          headers=deployed.tenant.main.headers, timeout=10.0)
        assert still.status_code == 200, still.text
    # And no fuzzed request broke a read model (a projection stops on a failing event).
    for process in ("worker", "full", "gateway"):
        log = (tmp_path / f"{process}.log").read_text(errors="replace")
        assert "projection_failed" not in log, log[-3000:]
