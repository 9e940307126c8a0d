"""What the inference gateway needs from infrastructure to meter and to limit its requests.

The gateway calls `UsageMeter.record` once per request it answered (streamed or not, whatever
the status, in a `finally` that a client disconnect cannot skip) and `RequestLimiter.admit`
before forwarding / `settle` after the upstream reported its usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class InferenceUsage:
    """One answered inference request, as the gateway measured it."""

    request_id: str  # the gateway's request id (req_…): the idempotency key
    org_id: UUID
    project_id: UUID | None
    api_key_id: str | None  # key_… public id, None for a user token
    model: str  # public model id, model_…
    deployment_id: str  # dep_…
    input_tokens: int
    output_tokens: int
    latency_ms: float  # total, as the client saw it
    status: int  # HTTP status answered (or 499 when the client went away mid-stream)
    streamed: bool
    occurred_at: float  # unix time the request started


class UsageMeter(Protocol):
    """Buffers usage off the request path; the records reach the Usage log in batches."""

    def record(self, usage: InferenceUsage) -> None:
        """Accept one request's usage: never blocks on I/O, never raises."""
        ...

    def close(self) -> None:
        """Flush everything buffered, then stop (graceful shutdown loses nothing)."""
        ...


# The names of the limits, as RateDecision.limit reports them.
KEY_REQUESTS, KEY_TOKENS = "key_requests", "key_tokens"
ORG_REQUESTS, ORG_TOKENS = "org_requests", "org_tokens"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int  # when not allowed: whole seconds until the window frees up (>= 1)
    limit: str | None  # which limit refused (one of the four names above); None if allowed


ALLOWED = RateDecision(allowed=True, retry_after_seconds=0, limit=None)


class RequestLimiter(Protocol):
    """Requests and tokens per minute, per API key and per organization, shared by replicas."""

    async def admit(self, *, org_id: str, key_id: str | None,
                    estimated_tokens: int) -> RateDecision:
        """Check every applicable limit and, if all allow it, count the request and its token
        estimate against them, atomically. Never raises."""
        ...

    async def settle(self, *, org_id: str, key_id: str | None, estimated_tokens: int,
                     actual_tokens: int) -> None:
        """Correct the token counters by `actual_tokens - estimated_tokens` (may be negative)
        once the request's real usage is known. Never raises."""
        ...
