"""An API key of an organization: its name, scopes, optional project, expiry and revocation.

Only an HMAC-SHA256 of the key (keyed with a server secret) is kept, with the display prefix
and last four characters. Rules live in the public methods; `@event` methods only assign.
`last_used_at` is recorded by a `Used` event at most once per LAST_USED_RESOLUTION_SECONDS per
key, so the log stays small while the list still tells live keys from forgotten ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.api_key_errors import ScopeEscalationError
from domain.identity.scopes import normalize_scopes, within
from domain.shared.cause import Cause
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError

MAX_NAME_LENGTH = 100
MAX_EXPIRY_DAYS = 365
DAY_SECONDS = 86400
LAST_USED_RESOLUTION_SECONDS = 3600


@dataclass(frozen=True)
class Expiry:
    """A requested lifetime in days from now; `days=None` means the key never expires."""

    days: int | None

    def at(self, now: float) -> float | None:
        if self.days is None:
            return None
        if isinstance(self.days, bool) or not 1 <= self.days <= MAX_EXPIRY_DAYS:
            raise ValidationFailedError(
                f"expires_in_days must be 1 to {MAX_EXPIRY_DAYS}.", param="expires_in_days")
        return now + self.days * DAY_SECONDS


def check_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationFailedError(f"The name must be 1 to {MAX_NAME_LENGTH} characters.",
                                    param="name")
    return name


def check_scopes(requested: Sequence[str], creator_scopes: Sequence[str]) -> tuple[str, ...]:
    scopes = normalize_scopes(requested)
    if not within(scopes, creator_scopes):
        raise ScopeEscalationError
    return scopes


class ApiKey(Aggregate):
    """One key; revoked is terminal, expired refuses updates."""

    TOPIC = "bitstride.identity.ApiKey"

    @classmethod
    def issue(cls, *, key_id: UUID, org_id: UUID, created_by: UUID, name: str,
              scopes: Sequence[str], creator_scopes: Sequence[str], project_id: UUID | None,
              prefix: str, last4: str, secret_hmac: str, expiry: Expiry, now: float,
              cause: Cause) -> ApiKey:
        return cls(id=key_id, org_id=org_id, created_by=created_by, name=check_name(name),
                   scopes=list(check_scopes(scopes, creator_scopes)), project_id=project_id,
                   prefix=prefix, last4=last4, secret_hmac=secret_hmac, created_at=now,
                   expires_at=expiry.at(now), cause=cause)

    @event("Created", topic="bitstride.identity.ApiKey.Created")
    def __init__(self, *, id: UUID, org_id: UUID, created_by: UUID, name: str,
                 scopes: list[str], project_id: UUID | None, prefix: str, last4: str,
                 secret_hmac: str, created_at: float, expires_at: float | None,
                 cause: Cause) -> None:
        self.org_id = org_id
        self.created_by = created_by
        self.name = name
        self.scopes = scopes
        self.project_id = project_id
        self.prefix = prefix
        self.last4 = last4
        self.secret_hmac = secret_hmac
        self.created_at = created_at
        self.expires_at = expires_at
        self.revoked_at: float | None = None
        self.last_used_at: float | None = None
        self.last_cause = cause

    # -- state ------------------------------------------------------------------------------

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def is_active(self, now: float) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    def state(self, now: float) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired(now) else "active"

    def allowed_actions(self, now: float) -> list[str]:
        return {"active": ["update", "revoke"], "expired": ["revoke"]}.get(self.state(now), [])

    # -- commands ---------------------------------------------------------------------------

    def update(self, *, name: str | None, scopes: Sequence[str] | None,
               expiry: Expiry | None, creator_scopes: Sequence[str], now: float,
               cause: Cause) -> bool:
        """Change name, scopes or expiry (never the secret); returns whether anything changed."""
        self._require("update", now)
        new_name = self.name if name is None else check_name(name)
        new_scopes = self.scopes if scopes is None else list(check_scopes(scopes, creator_scopes))
        new_expiry = self.expires_at if expiry is None else expiry.at(now)
        if (new_name, new_scopes, new_expiry) == (self.name, self.scopes, self.expires_at):
            return False
        self._updated(name=new_name, scopes=new_scopes, expires_at=new_expiry, cause=cause)
        return True

    def revoke(self, now: float, cause: Cause) -> None:
        self._require("revoke", now)
        self._revoked(at=now, cause=cause)

    def record_use(self, now: float, cause: Cause) -> bool:
        """Note a use, at most once per resolution window; returns whether an event was added."""
        if not self.is_active(now):
            return False
        if self.last_used_at is not None and (
                now - self.last_used_at < LAST_USED_RESOLUTION_SECONDS):
            return False
        self._used(at=now, cause=cause)
        return True

    def _require(self, action: str, now: float) -> None:
        allowed = self.allowed_actions(now)
        if action not in allowed:
            raise InvalidStateTransitionError(action=action, state=self.state(now),
                                              allowed_actions=allowed)

    # -- events -----------------------------------------------------------------------------

    @event("Updated", topic="bitstride.identity.ApiKey.Updated")
    def _updated(self, name: str, scopes: list[str], expires_at: float | None,
                 cause: Cause) -> None:
        self.name = name
        self.scopes = scopes
        self.expires_at = expires_at
        self.last_cause = cause

    @event("Revoked", topic="bitstride.identity.ApiKey.Revoked")
    def _revoked(self, at: float, cause: Cause) -> None:
        self.revoked_at = at
        self.last_cause = cause

    @event("Used", topic="bitstride.identity.ApiKey.Used")
    def _used(self, at: float, cause: Cause) -> None:
        self.last_used_at = at
        self.last_cause = cause
