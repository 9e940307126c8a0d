"""The ApiKey aggregate, its index, scopes and key format: rules without I/O."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.identity.api_key import DAY_SECONDS, LAST_USED_RESOLUTION_SECONDS, ApiKey, Expiry
from domain.identity.api_key_errors import ScopeEscalationError, TooManyApiKeysError
from domain.identity.api_key_format import (
    KEY_LENGTH,
    PREFIX,
    compose,
    display_prefix,
    last_four,
    parse_key_id,
)
from domain.identity.api_key_index import MAX_ACTIVE_KEYS, ApiKeyIndex
from domain.identity.scopes import (
    RESOURCE_GROUPS,
    USER_SCOPES,
    grants,
    known_scopes,
    normalize_scopes,
    within,
)
from domain.shared.cause import SYSTEM, Cause
from domain.shared.errors import InvalidStateTransitionError, ValidationFailedError

NOW = 1_800_000_000.0
USER = Cause(actor_id="user_x")


def issue(scopes: tuple[str, ...] = ("all",), *, creator: tuple[str, ...] = USER_SCOPES,
          days: int | None = 30, project_id: UUID | None = None) -> ApiKey:
    key_id = uuid4()
    value = compose(key_id, 12345)
    return ApiKey.issue(key_id=key_id, org_id=uuid4(), created_by=uuid4(), name=" ci ",
                        scopes=scopes, creator_scopes=creator, project_id=project_id,
                        prefix=display_prefix(value), last4=last_four(value),
                        secret_hmac="digest", expiry=Expiry(days), now=NOW, cause=USER)


class TestKeyFormat:
    def test_round_trip_and_shape(self) -> None:
        key_id = uuid4()
        value = compose(key_id, 2 ** 256 - 1)
        assert value.startswith(PREFIX) and len(value) == KEY_LENGTH
        assert value.count("_") == 3
        assert parse_key_id(value) == key_id

    @pytest.mark.parametrize("mutate", [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),      # checksum digit
        lambda v: v[:10] + ("A" if v[10] != "A" else "B") + v[11:],  # id digit
        lambda v: v[:40] + ("A" if v[40] != "A" else "B") + v[41:],  # secret digit
        lambda v: v + "x", lambda v: v[:-1], lambda v: "bsk-" + v[4:], lambda v: v.upper(),
        lambda v: "", lambda v: "bsk_",
    ])
    def test_any_change_fails_the_check(self, mutate: object) -> None:
        value = compose(uuid4(), 987654321)
        assert parse_key_id(mutate(value)) is None  # type: ignore[operator]

    def test_display_parts_are_not_the_secret(self) -> None:
        value = compose(uuid4(), 42)
        assert display_prefix(value) == value[:8] and last_four(value) == value[-4:]


class TestScopes:
    def test_known_scopes_cover_every_group(self) -> None:
        for group in RESOURCE_GROUPS:
            assert {f"{group}:read", f"{group}:write"} <= set(known_scopes())

    def test_write_implies_read_and_all_implies_everything(self) -> None:
        assert grants(["projects:write"], "projects:read")
        assert not grants(["projects:read"], "projects:write")
        assert not grants(["projects:write"], "orgs:read")
        assert grants(["read"], "orgs:read") and not grants(["read"], "orgs:write")
        assert all(grants(["all"], s) for s in known_scopes() if ":" in s)

    def test_within(self) -> None:
        assert within(["projects:read"], ["read"])
        assert within(["read"], ["all"])
        assert not within(["all"], ["read"])
        assert not within(["projects:write"], ["projects:read"])

    @pytest.mark.parametrize("bad", [[], ["admin"], ["projects:admin"], ["*"], ["ALL"],
                                     ["projects"], ["secrets:read"]])
    def test_unknown_or_empty_scopes_are_rejected(self, bad: list[str]) -> None:
        with pytest.raises(ValidationFailedError):
            normalize_scopes(bad)

    def test_normalized_sorted_and_deduplicated(self) -> None:
        assert normalize_scopes(["orgs:read", "projects:read", "orgs:read"]) == (
            "orgs:read", "projects:read")


class TestApiKey:
    def test_issue_records_the_rules_outcome(self) -> None:
        key = issue(("projects:read",), days=10)
        assert key.name == "ci"
        assert key.scopes == ["projects:read"]
        assert key.expires_at == NOW + 10 * DAY_SECONDS
        assert key.is_active(NOW) and not key.is_active(NOW + 10 * DAY_SECONDS)
        assert key.last_used_at is None and key.revoked_at is None

    def test_scopes_never_exceed_the_creator(self) -> None:
        with pytest.raises(ScopeEscalationError):
            issue(("all",), creator=("read",))
        with pytest.raises(ScopeEscalationError):
            issue(("projects:write",), creator=("projects:read",))
        key = issue(("projects:read",), creator=("read",))
        with pytest.raises(ScopeEscalationError):
            key.update(name=None, scopes=["projects:write"], expiry=None,
                       creator_scopes=("read",), now=NOW, cause=USER)

    @pytest.mark.parametrize("days", [0, -1, 366, 10_000])
    def test_expiry_is_bounded_to_a_year(self, days: int) -> None:
        with pytest.raises(ValidationFailedError):
            issue(days=days)

    def test_no_expiry_and_max_expiry(self) -> None:
        assert issue(days=None).expires_at is None
        assert issue(days=365).expires_at == NOW + 365 * DAY_SECONDS

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    def test_name_is_checked(self, name: str) -> None:
        key = issue()
        with pytest.raises(ValidationFailedError):
            key.update(name=name, scopes=None, expiry=None, creator_scopes=USER_SCOPES,
                       now=NOW, cause=USER)

    def test_update_changes_only_what_is_given(self) -> None:
        key = issue(("read",))
        assert key.update(name="renamed", scopes=None, expiry=None,
                          creator_scopes=USER_SCOPES, now=NOW, cause=USER)
        assert (key.name, key.scopes) == ("renamed", ["read"])
        assert not key.update(name="renamed", scopes=["read"], expiry=None,
                              creator_scopes=USER_SCOPES, now=NOW, cause=USER)
        key.update(name=None, scopes=None, expiry=Expiry(None), creator_scopes=USER_SCOPES,
                   now=NOW, cause=USER)
        assert key.expires_at is None

    def test_revoked_is_terminal(self) -> None:
        key = issue()
        key.revoke(NOW, USER)
        assert not key.is_active(NOW)
        with pytest.raises(InvalidStateTransitionError):
            key.revoke(NOW, USER)
        with pytest.raises(InvalidStateTransitionError):
            key.update(name="x", scopes=None, expiry=None, creator_scopes=USER_SCOPES,
                       now=NOW, cause=USER)
        assert not key.record_use(NOW, SYSTEM)

    def test_expired_key_can_only_be_revoked(self) -> None:
        key = issue(days=1)
        later = NOW + 2 * DAY_SECONDS
        with pytest.raises(InvalidStateTransitionError) as caught:
            key.update(name="x", scopes=None, expiry=Expiry(30), creator_scopes=USER_SCOPES,
                       now=later, cause=USER)
        assert caught.value.state == "expired"
        key.revoke(later, USER)
        assert key.is_revoked

    def test_use_is_recorded_at_most_once_per_window(self) -> None:
        key = issue()
        assert key.record_use(NOW, SYSTEM)
        assert not key.record_use(NOW + LAST_USED_RESOLUTION_SECONDS - 1, SYSTEM)
        assert key.record_use(NOW + LAST_USED_RESOLUTION_SECONDS, SYSTEM)
        assert key.last_used_at == NOW + LAST_USED_RESOLUTION_SECONDS

    def test_events_carry_no_secret_and_always_a_cause(self) -> None:
        key = issue()
        key.record_use(NOW, SYSTEM)
        key.update(name="n", scopes=None, expiry=None, creator_scopes=USER_SCOPES, now=NOW,
                   cause=USER)
        key.revoke(NOW, USER)
        secret_part = compose(key.id, 12345).split("_")[2]
        for pending in key.collect_events():
            assert isinstance(pending.__dict__.get("cause"), Cause), pending
            assert secret_part not in repr(pending.__dict__)


class TestIndex:
    def test_pages_newest_first_and_skips_revoked(self) -> None:
        index = ApiKeyIndex(org_id=uuid4(), cause=USER)
        ids = [uuid4() for _ in range(5)]
        for key_id in ids:
            index.add(key_id, USER)
        index.remove(ids[3], USER)
        page, more = index.page(after=None, limit=2)
        assert page == [ids[4], ids[2]] and more
        page, more = index.page(after=ids[3], limit=10)  # a revoked cursor still works
        assert page == [ids[2], ids[1], ids[0]] and not more
        assert index.page(after=uuid4(), limit=10) == ([], False)

    def test_active_keys_are_capped(self) -> None:
        index = ApiKeyIndex(org_id=uuid4(), cause=USER)
        for _ in range(MAX_ACTIVE_KEYS):
            index.add(uuid4(), USER)
        with pytest.raises(TooManyApiKeysError):
            index.add(uuid4(), USER)
