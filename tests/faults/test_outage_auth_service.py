"""The auth service stopped (issue 9, section 3), in the production shape.

The control plane proxies /v1/auth/* and /v1/api_keys/* to the auth service and checks the
rest itself: access tokens against the JWKS it fetched (cached), API keys through the auth
service's introspection, cached for API_KEY_CACHE_SECONDS. With the auth service stopped
(SIGTERM, not restarted): auth routes answer 503 in the envelope, an access token issued before
keeps working, and an API key checked before keeps working until its cache entry expires, then
answers 503.
"""

from __future__ import annotations

import time

import anyio
import pytest

from tests.e2e.conftest import error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.e2e.test_split_processes import SplitDeployment, split_deployment
from tests.e2e.test_walkthrough import http_client

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

__all__ = ["split_deployment"]

KEY_CACHE_SECONDS = 4.0  # long enough to stop the auth service and still be inside it


@pytest.fixture(autouse=True)
def short_key_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the processes start (autouse runs first): they inherit it."""
    monkeypatch.setenv("API_KEY_CACHE_SECONDS", str(KEY_CACHE_SECONDS))


async def test_auth_service_stopped(split_deployment: SplitDeployment) -> None:
    async with http_client(split_deployment.control_plane_url) as client:
        ada = await sign_up(client, "ada")
        key = bearer(await make_key(client, ada, ["read"]))
        checked_at = time.monotonic()  # the key's cache entry is made after this
        assert (await client.get("/v1/projects", headers=key)).status_code == 200

        split_deployment.auth.stop()  # SIGTERM, waited for

        error_of(await client.post("/v1/auth/login", json={"email": ada.email,
                                                           "password": "x" * 12}),
                 503, "service_unavailable")
        error_of(await client.post("/v1/auth/refresh",
                                   json={"refresh_token": ada.refresh_token}),
                 503, "service_unavailable")
        error_of(await client.get("/v1/api_keys", headers=ada.headers), 503,
                 "service_unavailable")

        # Access tokens are checked here, against the cached JWKS.
        made = await client.post("/v1/projects", headers=ada.headers, json={"name": "on"})
        assert made.status_code == 201, made.text
        listed = await client.get("/v1/projects", headers=ada.headers)
        assert [p["id"] for p in listed.json()["data"]] == [made.json()["id"]]

        # The key works from the cache until its entry expires, then cannot be checked.
        cached = await client.get("/v1/projects", headers=key)
        assert time.monotonic() - checked_at < KEY_CACHE_SECONDS, "too slow to test the cache"
        assert cached.status_code == 200, cached.text
        deadline = checked_at + KEY_CACHE_SECONDS + 5.0
        while (answer := await client.get("/v1/projects", headers=key)).status_code == 200:
            assert time.monotonic() < deadline, "the cached key outlived its TTL"
            await anyio.sleep(0.1)
        assert time.monotonic() - checked_at >= KEY_CACHE_SECONDS - 0.2  # served to expiry
        error_of(answer, 503, "service_unavailable")
