"""Fast stand-ins for the slow or shared adapters of the identity service."""

from __future__ import annotations

import hashlib

from application.identity.service import IdentityService
from application.identity.tokens import TokenPolicy
from infra.auth.revocations import InMemorySessionRevocations
from infra.auth.signing import Ed25519Signer


class FakePasswordHasher:
    """Deterministic and cheap; counts verifications so timing equalization is observable."""

    def __init__(self, scheme: str = "fake-v1") -> None:
        self.scheme = scheme
        self.verifications = 0

    def hash(self, password: str) -> str:
        return f"{self.scheme}${hashlib.sha256(password.encode()).hexdigest()}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        digest = hashlib.sha256(password.encode()).hexdigest()
        return password_hash.split("$", 1)[-1] == digest

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.scheme}$")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


POLICY = TokenPolicy(issuer="test-auth", audience="test-api", access_ttl_seconds=600,
                     refresh_ttl_seconds=3600)


def make_service(*, passwords: FakePasswordHasher | None = None,
                 revocations: InMemorySessionRevocations | None = None,
                 clock: FakeClock | None = None,
                 signer: Ed25519Signer | None = None) -> IdentityService:
    return IdentityService(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        passwords=passwords or FakePasswordHasher(),
        signer=signer or Ed25519Signer.generate(),
        revocations=revocations or InMemorySessionRevocations(),
        policy=POLICY,
        clock=clock or FakeClock(),
    )
