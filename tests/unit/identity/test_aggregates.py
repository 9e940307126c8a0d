"""Rules of the identity aggregates, without any store."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.identity.credentials import check_new_password, normalize_email
from domain.identity.email_index import EmailIndex, email_index_id
from domain.identity.errors import InvalidRefreshTokenError, OrganizationDeletedError
from domain.identity.organization import OrganizationAccess, organization_access_id
from domain.identity.session import RefreshOutcome, RevocationReason, Session
from domain.identity.user import User
from domain.shared.cause import SYSTEM
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import derived_id
from domain.tenancy.ids import personal_organization_id


def new_session(expires_at: float = 100.0) -> Session:
    return Session(id=uuid4(), user_id=uuid4(), org_id=uuid4(), refresh_hash="h0",
                   issued_at=0.0, expires_at=expires_at, cause=SYSTEM)


def replay(events: list) -> object:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class TestUser:
    def test_registration_normalizes_email_and_derives_the_personal_org(self) -> None:
        user_id = uuid4()
        user = User.register(user_id=user_id, email="  Ada@Example.COM ", name=" Ada ",
                             password_hash="argon2-hash", registered_at=10.0, cause=SYSTEM)
        assert user.id == user_id
        assert user.email == "ada@example.com"
        assert user.name == "Ada"
        assert user.organization_id == personal_organization_id(user_id)

    def test_rehash_records_an_event_only_when_the_hash_changes(self) -> None:
        user = User.register(user_id=uuid4(), email="a@b.co", name="", password_hash="h1",
                             registered_at=0.0, cause=SYSTEM)
        user.rehash_password("h1", SYSTEM)
        assert user.version == 1
        user.rehash_password("h2", SYSTEM)
        assert (user.version, user.password_hash) == (2, "h2")
        assert replay(list(user.collect_events())) == user

    @pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "a b@c.de", "@c.de",
                                       "x" * 320 + "@c.de"])
    def test_malformed_emails_are_invalid_values(self, email: str) -> None:
        with pytest.raises(ValidationFailedError) as info:
            normalize_email(email)
        assert info.value.param == "email"

    @pytest.mark.parametrize(("length", "ok"), [(7, False), (8, True), (1024, True),
                                                (1025, False)])
    def test_password_length_bounds(self, length: int, ok: bool) -> None:
        if ok:
            check_new_password("p" * length)
        else:
            with pytest.raises(ValidationFailedError) as info:
                check_new_password("p" * length)
            assert (info.value.code, info.value.param) == ("invalid_value", "password")


def test_email_index_id_is_derived_from_the_normalized_email() -> None:
    claim = EmailIndex(email="a@b.co", user_id=uuid4())
    assert claim.id == email_index_id("a@b.co") == derived_id("email", "a@b.co")


class TestSession:
    def test_rotation_moves_the_current_hash_to_used(self) -> None:
        session = new_session()
        assert session.refresh("h0", "h1", 1.0, SYSTEM) is RefreshOutcome.ROTATED
        assert session.refresh_hash == "h1"
        assert session.used_hashes == ["h0"]
        assert session.knows_refresh_hash("h0") and session.knows_refresh_hash("h1")

    def test_reuse_of_a_rotated_hash_revokes_the_session(self) -> None:
        session = new_session()
        session.refresh("h0", "h1", 1.0, SYSTEM)
        assert session.refresh("h0", "h2", 2.0, SYSTEM) is RefreshOutcome.REUSE_DETECTED
        assert session.is_revoked
        assert session.revoked_reason == RevocationReason.REFRESH_TOKEN_REUSED
        with pytest.raises(InvalidRefreshTokenError):
            session.refresh("h1", "h3", 3.0, SYSTEM)

    def test_unknown_hash_is_invalid_without_revoking(self) -> None:
        session = new_session()
        with pytest.raises(InvalidRefreshTokenError):
            session.refresh("guess", "h1", 1.0, SYSTEM)
        assert not session.is_revoked

    def test_expired_session_cannot_refresh(self) -> None:
        session = new_session(expires_at=100.0)
        with pytest.raises(InvalidRefreshTokenError):
            session.refresh("h0", "h1", 100.0, SYSTEM)

    def test_revoke_is_idempotent_and_replays(self) -> None:
        session = new_session()
        assert session.revoke(RevocationReason.LOGOUT, 5.0, SYSTEM) is True
        assert session.revoke(RevocationReason.LOGOUT, 6.0, SYSTEM) is False
        assert session.revoked_at == 5.0
        assert replay(list(session.collect_events())) == session


class TestOrganizationAccess:
    def test_closed_organization_refuses_new_sessions(self) -> None:
        org_id = uuid4()
        access = OrganizationAccess(org_id=org_id)
        assert access.id == organization_access_id(org_id)
        first = uuid4()
        access.add_session(first, expires_at=50.0)
        access.close(10.0, SYSTEM)
        access.close(11.0, SYSTEM)
        assert access.closed_at == 10.0
        with pytest.raises(OrganizationDeletedError):
            access.add_session(uuid4(), expires_at=60.0)
        assert access.sessions_alive_after(40.0) == [first]
        assert access.sessions_alive_after(50.0) == []
        assert replay(list(access.collect_events())) == access
