"""Provider-login test harness: the local issuer, a control plane with the auth app embedded,
and a 'browser' (an httpx client that keeps cookies) that walks login → authorize → callback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.http.app import as_asgi, create_control_plane_app
from tests.support.oidc_issuer import OidcIssuer

PUBLIC_URL = "http://bitstride.test"
APP_URL = "https://app.example.com/auth/done"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def issuer_server() -> Iterator[OidcIssuer]:
    issuer = OidcIssuer().start()
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.fixture
def issuer(issuer_server: OidcIssuer) -> OidcIssuer:
    issuer_server.reset()
    return issuer_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def oauth_settings(tmp_path: Path, issuer: OidcIssuer, **changes: Any) -> Settings:
    providers = [issuer.provider_config(), issuer.github_config()]
    return Settings(data_dir=tmp_path / "var", public_url=PUBLIC_URL,
                    oauth_providers=json.dumps(providers), login_redirect_urls=(APP_URL,),
                    read_your_writes_timeout_seconds=5.0).with_overrides(**changes)


@asynccontextmanager
async def control_plane(settings: Settings) -> AsyncIterator[tuple[ControlPlane, Browser]]:
    """`bitstride dev` in process (embedded auth app behind the proxy), and a browser for it."""
    plane = ControlPlane(settings)
    try:
        plane.start_workers()
        app = create_control_plane_app(plane, "full")
        transport = httpx.ASGITransport(app=as_asgi(app, plane.metrics))
        async with app.lifespan(), httpx.AsyncClient(transport=transport,
                                                     base_url=PUBLIC_URL) as client:
            yield plane, Browser(client)
    finally:
        plane.close()


class Browser:
    """Keeps the control plane's cookies, as a browser would; talks to the issuer directly."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def fresh(self) -> Browser:
        """Another browser: same server, no cookies."""
        return Browser(httpx.AsyncClient(transport=self.client._transport, base_url=PUBLIC_URL))

    async def start(self, provider: str = "mock", **params: str) -> httpx.Response:
        return await self.client.get(f"/v1/auth/login/{provider}", params=params)

    async def authorize(self, started: httpx.Response) -> str:
        """Follow the provider redirect; return the callback URL the provider sends us to."""
        assert started.status_code == 302, started.text
        async with httpx.AsyncClient() as provider:
            answer = await provider.get(started.headers["location"])
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    async def callback(self, url: str) -> httpx.Response:
        return await self.client.get(url)

    async def login(self, provider: str = "mock", **params: str) -> httpx.Response:
        return await self.callback(await self.authorize(await self.start(provider, **params)))


def callback_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def fragment_tokens(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(APP_URL + "#"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code
