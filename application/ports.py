"""What the application layer needs from infrastructure, as Protocols."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Current time in unix seconds; injected so time-dependent rules are testable."""

    def __call__(self) -> float: ...


class SessionRevocations(Protocol):
    """Shared list of ended sessions, read by every service that verifies access tokens.

    Entries live as long as an access token could (its TTL), after which expiry alone rejects it.
    """

    def revoke(self, session_id: str, ttl_seconds: int) -> None: ...

    def is_revoked(self, session_id: str) -> bool: ...
