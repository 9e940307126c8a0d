"""API-key use cases of the auth service: create, list, update, revoke, introspect.

They run on the auth service's own application (same log and store as users and sessions).
The full key exists only in the IssuedKey returned by `create`; events hold its HMAC digest.
After a change or revocation the key id is published so control planes drop cached grants.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

import structlog
from eventsourcing.persistence import IntegrityError

from application.identity.ports import ApiKeyChangeNotifier, ApiKeyHasher
from application.ports import Clock
from application.shared.base import BitstrideApplication, retry_on_conflict
from domain.identity.api_key import ApiKey, Expiry
from domain.identity.api_key_format import compose, display_prefix, last_four, parse_key_id
from domain.identity.api_key_index import ApiKeyIndex, api_key_index_id
from domain.identity.errors import OrganizationDeletedError
from domain.identity.organization import OrganizationAccess, organization_access_id
from domain.identity.scopes import USER_SCOPES
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, VersionMismatchError
from domain.shared.ids import format_id

log = structlog.get_logger("bitstride.auth.api_keys")

# A key's stream grows by at most one `Used` event an hour; snapshots keep loading it cheap.
SNAPSHOT_EVERY = 50


@dataclass(frozen=True)
class IssuedKey:
    """A new key and, once only, its full value."""

    key: ApiKey
    value: str


@dataclass(frozen=True)
class KeyGrant:
    """What an active key may do: the answer of introspection."""

    key_id: UUID
    org_id: UUID
    scopes: tuple[str, ...]
    project_id: UUID | None
    expires_at: float | None


@dataclass(frozen=True)
class KeyChanges:
    """A PUT: None leaves a field as it is."""

    name: str | None = None
    scopes: Sequence[str] | None = None
    expiry: Expiry | None = None


class ApiKeys:
    """One method per command; the caller is a user of `org_id` (never another key)."""

    def __init__(self, app: BitstrideApplication, *, hasher: ApiKeyHasher,
                 notifier: ApiKeyChangeNotifier, clock: Clock) -> None:
        self.app = app
        self._hasher = hasher
        self._notifier = notifier
        self.clock = clock

    # -- commands ---------------------------------------------------------------------------

    def create(self, *, user_id: UUID, org_id: UUID, name: str, scopes: Sequence[str],
               project_id: UUID | None, expiry: Expiry,
               request_id: str | None = None) -> IssuedKey:
        if self._organization_closed(org_id):
            raise OrganizationDeletedError
        key_id = uuid4()
        value = compose(key_id, secrets.randbits(256))
        cause = _user_cause(user_id, request_id)
        creator_scopes = self.creator_scopes(user_id, org_id)

        def save() -> ApiKey:  # rebuilt each attempt: a failed save() consumed its events
            key = ApiKey.issue(key_id=key_id, org_id=org_id, created_by=user_id, name=name,
                               scopes=scopes, creator_scopes=creator_scopes,
                               project_id=project_id, prefix=display_prefix(value),
                               last4=last_four(value), secret_hmac=self._hasher.digest(value),
                               expiry=expiry, now=self.clock(), cause=cause)
            index = self._index(org_id, cause)
            index.add(key_id, cause)
            self.app.save(key, index)
            return key

        key = retry_on_conflict(save)
        log.info("api_key_created", key_id=format_id("key", key_id),
                 org_id=format_id("org", org_id))
        return IssuedKey(key=key, value=value)

    def update(self, *, user_id: UUID, org_id: UUID, key_id: UUID, changes: KeyChanges,
               expected_version: int | None = None, request_id: str | None = None) -> ApiKey:
        cause = _user_cause(user_id, request_id)

        def attempt() -> ApiKey:
            key = self._get_at(org_id, key_id, expected_version)
            if key.update(name=changes.name, scopes=changes.scopes, expiry=changes.expiry,
                          creator_scopes=self.creator_scopes(user_id, org_id),
                          now=self.clock(), cause=cause):
                self._save_key(key)
            return key

        key = retry_on_conflict(attempt)
        self._notifier.publish(format_id("key", key_id))
        return key

    def revoke(self, *, user_id: UUID, org_id: UUID, key_id: UUID,
               expected_version: int | None = None, request_id: str | None = None) -> None:
        cause = _user_cause(user_id, request_id)

        def attempt() -> None:
            key = self._get_at(org_id, key_id, expected_version)
            key.revoke(self.clock(), cause)
            index = self._index(org_id, cause)
            index.remove(key_id, cause)
            self.app.save(key, index)

        retry_on_conflict(attempt)
        self._notifier.publish(format_id("key", key_id))
        log.info("api_key_revoked", key_id=format_id("key", key_id))

    def introspect(self, value: str) -> KeyGrant | None:
        """The grant of an active key; None for anything else, without saying why."""
        key_id = parse_key_id(value)
        if key_id is None:
            return None
        key = self.app.get_or_none(key_id)
        if not isinstance(key, ApiKey):
            self._hasher.digest(value)  # unknown ids cost what known ones do
            return None
        presented = self._hasher.digest(value)
        now = self.clock()
        if not hmac.compare_digest(presented.encode(), key.secret_hmac.encode()):
            return None
        if not key.is_active(now) or self._organization_closed(key.org_id):
            return None
        self._note_use(key, now)
        return KeyGrant(key_id=key.id, org_id=key.org_id, scopes=tuple(key.scopes),
                        project_id=key.project_id, expires_at=key.expires_at)

    # -- queries ----------------------------------------------------------------------------

    def get(self, org_id: UUID, key_id: UUID) -> ApiKey:
        """A live key of this organization; another org's or a revoked key is not found."""
        key = self.app.get_or_none(key_id)
        if not isinstance(key, ApiKey) or key.org_id != org_id or key.is_revoked:
            raise NotFoundError(f"No such API key: {format_id('key', key_id)!r}.")
        return key

    def list(self, org_id: UUID, *, after: UUID | None, limit: int) -> tuple[list[ApiKey], bool]:
        index = self.app.get_or_none(api_key_index_id(org_id))
        if not isinstance(index, ApiKeyIndex):
            return [], False
        ids, has_more = index.page(after=after, limit=limit)
        keys = [self.app.get_or_none(key_id) for key_id in ids]
        return [key for key in keys if isinstance(key, ApiKey)], has_more

    def creator_scopes(self, user_id: UUID, org_id: UUID) -> tuple[str, ...]:
        """What the user holds in the org; every user holds everything until roles exist."""
        return USER_SCOPES

    # -- helpers ----------------------------------------------------------------------------

    def _get_at(self, org_id: UUID, key_id: UUID, expected_version: int | None) -> ApiKey:
        """The key, if it is still at the version the caller saw (If-Match), else 412."""
        key = self.get(org_id, key_id)
        if expected_version is not None and key.version != expected_version:
            raise VersionMismatchError(
                f"The API key is at version {key.version}, not {expected_version}.")
        return key

    def _note_use(self, key: ApiKey, now: float) -> None:
        """Best effort: losing a race with an update just skips this hour's note."""
        cause = Cause(actor_id=format_id("key", key.id), actor_kind="api_key")
        if key.record_use(now, cause):
            with contextlib.suppress(IntegrityError):
                self._save_key(key)

    def _save_key(self, key: ApiKey) -> None:
        self.app.save(key)
        if self.app.snapshots is not None and key.version % SNAPSHOT_EVERY == 0:
            self.app.take_snapshot(key.id, version=key.version)

    def _index(self, org_id: UUID, cause: Cause) -> ApiKeyIndex:
        index = self.app.get_or_none(api_key_index_id(org_id))
        if isinstance(index, ApiKeyIndex):
            return index
        return ApiKeyIndex(org_id=org_id, cause=cause)

    def _organization_closed(self, org_id: UUID) -> bool:
        access = self.app.get_or_none(organization_access_id(org_id))
        return isinstance(access, OrganizationAccess) and access.is_closed


def _user_cause(user_id: UUID, request_id: str | None) -> Cause:
    return Cause(actor_id=format_id("user", user_id), request_id=request_id)
