"""API-key scopes: the one place that names resource groups and what each scope grants.

A scope is "all", "read" (read-only everywhere), or "<group>:read" / "<group>:write" where write
implies read. Later issues add routes by appending their group to RESOURCE_GROUPS.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from domain.shared.errors import ValidationFailedError

# Routes that exist now: projects, orgs. The rest are reserved for the routes still to come.
# `inference`: the gateway (`inference:write` calls a model, `inference:read` lists what it may).
# `billing`: invoices; `audit`: the organization's event history.
RESOURCE_GROUPS = ("projects", "orgs", "models", "datasets", "fine_tuning", "rl",
                   "deployments", "usage", "inference", "billing", "audit")
READ = "read"
WRITE = "write"
ALL = "all"
READ_ONLY = "read"
# Users have every right in their organization (no roles yet); their keys are bounded by this.
USER_SCOPES: tuple[str, ...] = (ALL,)
MAX_SCOPES = 64

Permission = tuple[str, str]


def known_scopes() -> tuple[str, ...]:
    return (ALL, READ_ONLY, *(f"{group}:{level}" for group in RESOURCE_GROUPS
                              for level in (READ, WRITE)))


def normalize_scopes(raw: Iterable[str]) -> tuple[str, ...]:
    """Validated, deduplicated and sorted; an unknown scope is an error, never ignored."""
    scopes = list(raw)
    if not scopes:
        raise ValidationFailedError("Give at least one scope.", param="scopes")
    if len(scopes) > MAX_SCOPES:
        raise ValidationFailedError(f"At most {MAX_SCOPES} scopes.", param="scopes")
    valid = set(known_scopes())
    for scope in scopes:
        if not isinstance(scope, str) or scope not in valid:
            raise ValidationFailedError(
                f"Unknown scope {str(scope)[:64]!r}; use 'all', 'read', or '<group>:read' / "
                f"'<group>:write' with group one of {', '.join(RESOURCE_GROUPS)}.",
                param="scopes")
    return tuple(sorted(set(scopes)))


def permissions(scopes: Iterable[str]) -> frozenset[Permission]:
    """Every (group, level) the scopes grant; write implies read."""
    granted: set[Permission] = set()
    for scope in scopes:
        if scope == ALL:
            granted.update((g, lvl) for g in RESOURCE_GROUPS for lvl in (READ, WRITE))
        elif scope == READ_ONLY:
            granted.update((g, READ) for g in RESOURCE_GROUPS)
        else:
            group, _, level = scope.partition(":")
            if group in RESOURCE_GROUPS and level in (READ, WRITE):
                granted.add((group, level))
                if level == WRITE:
                    granted.add((group, READ))
    return frozenset(granted)


def grants(scopes: Iterable[str], needed: str) -> bool:
    """Whether `scopes` allow `needed` ("projects:write")."""
    group, _, level = needed.partition(":")
    return (group, level) in _held(tuple(scopes))


@functools.lru_cache(maxsize=1024)
def _held(scopes: tuple[str, ...]) -> frozenset[Permission]:
    """`permissions`, remembered: every authenticated request asks, with few distinct sets."""
    return permissions(scopes)


def within(requested: Iterable[str], held: Iterable[str]) -> bool:
    """A key never holds more than its creator: requested ⊆ held, as permissions."""
    return permissions(requested) <= permissions(held)
