"""How the tenancy context reaches the auth service: over HTTP, or in-process when embedded."""

from __future__ import annotations

import time
from typing import Protocol
from uuid import UUID

import httpx

from domain.shared.ids import format_id


class OrganizationCloser(Protocol):
    def close_organization(self, org_id: UUID, now: float) -> object: ...


class HttpIdentityGateway:
    """Calls the auth service's internal route; retried by the process manager on failure."""

    def __init__(self, base_url: str, internal_token: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10.0,
                                   headers={"X-Internal-Token": internal_token})

    def close_organization(self, org_id: UUID) -> None:
        response = self.client.post(f"/internal/organizations/{format_id('org', org_id)}/close")
        response.raise_for_status()


class InProcessIdentityGateway:
    """The embedded auth service's application, called directly."""

    def __init__(self, identity: OrganizationCloser) -> None:
        self.identity = identity

    def close_organization(self, org_id: UUID) -> None:
        self.identity.close_organization(org_id, time.time())
