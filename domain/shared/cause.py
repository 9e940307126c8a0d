"""Who and what caused an event; recorded on every event for auditors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    """The actor, the request and the idempotency key behind a command. Never a secret."""

    actor_id: str
    actor_kind: str = "user"
    request_id: str | None = None
    idempotency_key: str | None = None


SYSTEM = Cause(actor_id="system", actor_kind="system")
