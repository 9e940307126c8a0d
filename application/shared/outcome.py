"""What every command returns, and the If-Match precondition every context checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from domain.shared.errors import IdempotencyKeyReusedError, VersionMismatchError

A = TypeVar("A")


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """A command's result: the aggregate after it, and the position to wait on (if it wrote)."""

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


def replayed(earlier: object, kind: type[F], request_fingerprint: str) -> Outcome[F]:
    """The first outcome of a keyed create, or 409 when the key came with another body."""
    if not isinstance(earlier, kind) or earlier.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used with a different request.")
    return Outcome(earlier, None, replayed=True)
