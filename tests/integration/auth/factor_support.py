"""The auth app over httpx's ASGI transport (inside its lifespan), and MFA/verification steps."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp

from application.identity.service import IdentityService
from infra.auth.passwords import Argon2PasswordHasher
from infra.auth.revocations import InMemorySessionRevocations
from infra.auth.signing import Ed25519Signer
from infra.eventstore import eventstore_env
from infra.settings import Settings
from interfaces.http.auth_service.app import create_auth_app, token_policy
from tests.unit.identity.fakes import FakeClock

PASSWORD = "correct horse battery"


def past_clock() -> FakeClock:
    """Five minutes ago, on a TOTP step boundary: tokens it stamps verify against real time
    (no future `iat`) for the few steps a test moves it on."""
    return FakeClock(float((int(time.time()) - 300) // 30 * 30))


@asynccontextmanager
async def auth_client(settings: Settings, clock: FakeClock, *, client_ip: str = "127.0.0.1",
                      revocations: InMemorySessionRevocations | None = None,
                      ) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (SQLite store, argon2id) on a clock the test moves; the transport sends no
    lifespan events, so the app's lifespan is entered here."""
    revocations = revocations or InMemorySessionRevocations()
    identity = IdentityService(
        eventstore_env(None, settings.auth_sqlite_path, settings.auth_database_schema),
        passwords=Argon2PasswordHasher(),
        signer=Ed25519Signer.load_or_create(settings.signing_key_path),
        revocations=revocations, policy=token_policy(settings), clock=clock)
    app = create_auth_app(settings, revocations=revocations, identity=identity)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    try:
        async with app.lifespan(), httpx.AsyncClient(transport=transport,
                                                     base_url="http://auth.test") as client:
            yield client
    finally:
        identity.close()


def outbox_links(data_dir: Path) -> list[str]:
    """Verification links from the .eml files, oldest first."""
    files = sorted((data_dir / "outbox").glob("*.eml"))
    return [m.group(0) for f in files
            for m in [re.search(r"https?://\S+/v1/auth/verify\?token=[\w-]+", f.read_text())]
            if m is not None]


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


async def register(client: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    response = await client.post("/v1/auth/register",
                                 json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str = "ada@example.com",
                password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password},
                             **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enable_mfa(client: httpx.AsyncClient, clock: FakeClock, access_token: str,
                     ) -> tuple[pyotp.TOTP, list[str]]:
    """Enrol and activate, then move the clock one step on (the activation code is spent)."""
    enrolled = await client.post("/v1/auth/mfa/enroll", headers=bearer(access_token))
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["qr_svg"].lstrip().startswith("<?xml")
    totp = pyotp.TOTP(enrolled.json()["secret"])
    activated = await client.post("/v1/auth/mfa/verify", headers=bearer(access_token),
                                  json={"code": totp.at(clock.now)})
    assert activated.status_code == 200, activated.text
    clock.advance(30)
    return totp, activated.json()["recovery_codes"]


async def mfa_challenge(client: httpx.AsyncClient, email: str = "ada@example.com") -> str:
    response = await login(client, email)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True and "access_token" not in body
    token: str = body["mfa_token"]
    return token
