"""What every command returns, and the If-Match precondition every context checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from domain.shared.errors import IdempotencyKeyReusedError, VersionMismatchError

A = TypeVar("A")


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """A command's result: the aggregate after it, and the position its answer waits on (what
    it wrote; for a replay, the log's head when it was found; None when there is nothing)."""

    aggregate: A
    position: int | None
    replayed: bool = False


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


def require_version(aggregate: Versioned, expected: int | None) -> None:
    if expected is not None and expected != aggregate.version:
        raise VersionMismatchError(
            f"If-Match names version {expected}, but the current version is {aggregate.version}.")


class Fingerprinted(Protocol):
    @property
    def request_fingerprint(self) -> str: ...


F = TypeVar("F", bound=Fingerprinted)


def replayed(earlier: object, kind: type[F], request_fingerprint: str,
             head: int | None) -> Outcome[F]:
    """The first outcome of a keyed create, or 409 when the key came with another body.

    `head` is the log's last position once the earlier create was found: the replay waits for
    it like the first answer waited for its own, so a replay is readable at once even while
    the first request is still in flight (its event not yet projected)."""
    if not isinstance(earlier, kind) or earlier.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used with a different request.")
    return Outcome(earlier, head, replayed=True)
