"""Auth service routes: mfa (filled in by its feature)."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import State

from application.identity.service import IdentityService
from application.ports import SessionRevocations
from infra.settings import Settings

ROUTES: list[Any] = []


def install(state: State, settings: Settings, identity: IdentityService,
            revocations: SessionRevocations) -> None:
    """Build this feature's components onto the app state at startup."""
