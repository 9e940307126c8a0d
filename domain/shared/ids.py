"""Public ids: a type prefix plus the aggregate's UUID in hex, e.g. `proj_4f1c...`."""

from __future__ import annotations

from uuid import UUID, uuid5

from domain.shared.errors import NotFoundError

# Namespace for deterministic ids (uuid5); changing it would orphan every derived id.
BITSTRIDE_NAMESPACE = UUID("6f9d1d3e-3c4b-5a8e-9b1e-2f0c7d4a8b61")


def format_id(prefix: str, value: UUID) -> str:
    """Render an aggregate id as the prefixed public id."""
    return f"{prefix}_{value.hex}"


def parse_id(prefix: str, public_id: str) -> UUID:
    """Parse a prefixed public id; a wrong prefix or malformed value is simply not found."""
    head, _, tail = public_id.partition("_")
    if head != prefix or len(tail) != 32:
        raise NotFoundError(_not_found(public_id))
    try:
        return UUID(hex=tail)
    except ValueError:
        raise NotFoundError(_not_found(public_id)) from None


def _not_found(public_id: str) -> str:
    """Quotes at most what a real id can hold: the value came from a client, unbounded."""
    shown = public_id if len(public_id) <= 64 else public_id[:64] + "..."
    return f"No such object: {shown!r}."


def derived_id(*parts: str) -> UUID:
    """A deterministic id from its natural key, so creating twice hits the same aggregate."""
    return uuid5(BITSTRIDE_NAMESPACE, "/".join(parts))
