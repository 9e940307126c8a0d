"""IdentityService use cases on the in-memory event store, with fake hashing and clock."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import jwt
import pytest

from application.identity.service import REVOCATION_MARGIN_SECONDS
from domain.identity.email_index import EmailIndex
from domain.identity.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    OrganizationDeletedError,
    RefreshTokenReusedError,
)
from domain.identity.organization import organization_access_id
from domain.identity.session import RevocationReason
from domain.identity.user import User
from domain.shared.cause import SYSTEM
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import format_id
from domain.tenancy.ids import personal_organization_id
from infra.auth.revocations import InMemorySessionRevocations
from infra.auth.signing import Ed25519Signer
from tests.unit.identity.fakes import POLICY, FakeClock, FakePasswordHasher, make_service

PASSWORD = "correct horse battery"


def stored_states(service) -> bytes:
    """Every stored event payload, to check no secret ever lands in the log."""
    return b"".join(n.state for n in service.recorder.select_notifications(1, 10_000))


def test_register_records_the_user_and_returns_its_log_position() -> None:
    service = make_service()
    user_id, position = service.register("Ada@Example.com", "Ada", PASSWORD)
    user = service.user(user_id)
    assert user.email == "ada@example.com"
    assert position == service.recorder.max_notification_id() - 1  # the claim follows it
    topics = [n.topic for n in service.recorder.select_notifications(position, 1)]
    assert topics == ["bitstride.identity.User.Created"]
    assert PASSWORD.encode() not in stored_states(service)


def test_duplicate_email_is_taken_whatever_its_case() -> None:
    service = make_service()
    service.register("ada@example.com", "Ada", PASSWORD)
    with pytest.raises(EmailTakenError):
        service.register(" ADA@example.com", "Other", PASSWORD)


def test_concurrent_duplicate_registrations_make_exactly_one_user() -> None:
    service = make_service()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def register() -> None:
        barrier.wait()
        try:
            service.register("race@example.com", "R", PASSWORD)
            outcomes.append("ok")
        except EmailTakenError:
            outcomes.append("taken")

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["taken"] * 7
    topics = [n.topic for n in service.recorder.select_notifications(1, 100)]
    assert topics.count("bitstride.identity.User.Created") == 1


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_register_rejects_passwords_out_of_bounds(password: str) -> None:
    with pytest.raises(ValidationFailedError) as info:
        make_service().register("a@b.co", "", password)
    assert info.value.param == "password"


def test_login_issues_an_eddsa_access_token_with_the_expected_claims() -> None:
    signer = Ed25519Signer.generate()
    clock = FakeClock()
    service = make_service(signer=signer, clock=clock)
    user_id, _ = service.register("a@b.co", "A", PASSWORD)
    pair = service.login("A@B.CO", PASSWORD, clock.now)
    claims = jwt.decode(pair.access_token, signer.public_key, algorithms=["EdDSA"],
                        audience=POLICY.audience, issuer=POLICY.issuer,
                        options={"verify_exp": False, "verify_iat": False})
    assert jwt.get_unverified_header(pair.access_token)["kid"] == signer.kid
    assert claims["sub"] == format_id("user", user_id)
    assert claims["org"] == format_id("org", personal_organization_id(user_id))
    assert claims["sid"] == format_id("sess", pair.session_id)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == POLICY.access_ttl_seconds == pair.expires_in
    assert pair.refresh_token.startswith(f"rt_{pair.session_id.hex}_")
    assert pair.refresh_token.encode() not in stored_states(service)


def test_unknown_email_and_wrong_password_fail_alike_after_one_verification_each() -> None:
    passwords = FakePasswordHasher()
    service = make_service(passwords=passwords)
    service.register("a@b.co", "A", PASSWORD)
    errors = []
    for email, password in [("nobody@b.co", PASSWORD), ("a@b.co", "wrong password"),
                            ("not-an-email", PASSWORD)]:
        before = passwords.verifications
        with pytest.raises(InvalidCredentialsError) as info:
            service.login(email, password, 0.0)
        assert passwords.verifications == before + 1
        errors.append((info.value.code, info.value.message))
    assert len(set(errors)) == 1


def test_login_rehashes_a_password_hashed_with_old_parameters() -> None:
    old = FakePasswordHasher(scheme="fake-v0")
    service = make_service(passwords=old)
    user_id, _ = service.register("a@b.co", "A", PASSWORD)
    service._passwords = FakePasswordHasher(scheme="fake-v1")  # parameters strengthened
    service.login("a@b.co", PASSWORD, 0.0)
    assert service.user(user_id).password_hash.startswith("fake-v1$")


def test_refresh_rotates_and_reuse_revokes_the_session_everywhere() -> None:
    revocations = InMemorySessionRevocations()
    service = make_service(revocations=revocations)
    service.register("a@b.co", "A", PASSWORD)
    first = service.login("a@b.co", PASSWORD, 0.0)
    second = service.refresh(first.refresh_token, 10.0)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    third = service.refresh(second.refresh_token, 20.0)

    with pytest.raises(RefreshTokenReusedError):
        service.refresh(first.refresh_token, 30.0)
    session = service.session(first.session_id)
    assert session.revoked_reason == RevocationReason.REFRESH_TOKEN_REUSED
    assert revocations.is_revoked(format_id("sess", first.session_id))
    with pytest.raises(InvalidRefreshTokenError):
        service.refresh(third.refresh_token, 40.0)


@pytest.mark.parametrize("token", ["", "rt_abc", "rt_" + "0" * 32 + "_" + "A" * 43])
def test_malformed_or_unknown_refresh_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidRefreshTokenError):
        make_service().refresh(token, 0.0)


def test_expired_refresh_token_is_invalid() -> None:
    service = make_service()
    service.register("a@b.co", "A", PASSWORD)
    pair = service.login("a@b.co", PASSWORD, 0.0)
    with pytest.raises(InvalidRefreshTokenError):
        service.refresh(pair.refresh_token, POLICY.refresh_ttl_seconds + 1.0)


def test_logout_revokes_the_session_and_its_access_tokens() -> None:
    revocations = InMemorySessionRevocations()
    service = make_service(revocations=revocations)
    service.register("a@b.co", "A", PASSWORD)
    pair = service.login("a@b.co", PASSWORD, 0.0)
    assert service.logout(pair.session_id, 5.0) is True
    assert service.logout(pair.session_id, 6.0) is False
    assert revocations.is_revoked(format_id("sess", pair.session_id))
    with pytest.raises(InvalidRefreshTokenError):
        service.refresh(pair.refresh_token, 7.0)


def test_closing_the_organization_revokes_sessions_and_refuses_logins() -> None:
    revocations = InMemorySessionRevocations()
    service = make_service(revocations=revocations)
    user_id, _ = service.register("a@b.co", "A", PASSWORD)
    org_id = personal_organization_id(user_id)
    pairs = [service.login("a@b.co", PASSWORD, 0.0) for _ in range(2)]

    assert service.close_organization(org_id, 10.0) == 2
    assert service.close_organization(org_id, 11.0) == 2  # idempotent, re-revokes
    assert service.is_organization_closed(org_id)
    for pair in pairs:
        assert service.session(pair.session_id).is_revoked
        assert revocations.is_revoked(format_id("sess", pair.session_id))
        with pytest.raises(OrganizationDeletedError):
            service.refresh(pair.refresh_token, 12.0)
    with pytest.raises(OrganizationDeletedError):
        service.login("a@b.co", PASSWORD, 12.0)
    with pytest.raises(InvalidCredentialsError):
        service.login("a@b.co", "wrong password", 12.0)


def test_closing_an_unknown_organization_is_recorded() -> None:
    service = make_service()
    org_id = UUID(int=7)
    assert service.close_organization(org_id, 0.0) == 0
    assert service.is_organization_closed(org_id)


def test_revocations_outlive_access_tokens() -> None:
    clock = FakeClock(0.0)
    revocations = InMemorySessionRevocations(clock=clock)
    service = make_service(revocations=revocations)
    service.register("a@b.co", "A", PASSWORD)
    pair = service.login("a@b.co", PASSWORD, 0.0)
    service.logout(pair.session_id, 0.0)
    sid = format_id("sess", pair.session_id)
    clock.advance(POLICY.access_ttl_seconds + REVOCATION_MARGIN_SECONDS - 1)
    assert revocations.is_revoked(sid)
    clock.advance(2)
    assert not revocations.is_revoked(sid)


def test_a_busy_organizations_access_record_loads_from_a_snapshot() -> None:
    """Each login appends to the org's access record; snapshots keep loading it short."""
    service = make_service()
    user_id, _ = service.register("busy@b.co", "B", PASSWORD)
    org_id = personal_organization_id(user_id)
    for _ in range(105):
        service.login("busy@b.co", PASSWORD, 0.0)
    access_id = organization_access_id(org_id)
    assert service.snapshots is not None
    snapshots = list(service.snapshots.get(access_id))
    assert [snapshot.originator_version for snapshot in snapshots] == [100]
    access = service.repository.get(access_id)
    assert access.version == 106
    assert len(access.sessions_alive_after(0.0)) == 105
    assert service.close_organization(org_id, 1.0) == 105


def test_a_provider_only_user_fails_a_password_login_after_one_verification() -> None:
    """No timing tell that an email belongs to an account without a password."""
    passwords = FakePasswordHasher()
    service = make_service(passwords=passwords)
    user = User.register_external(user_id=uuid4(), email="fed@b.co", name="F",
                                  registered_at=0.0, cause=SYSTEM)
    service.save(user, EmailIndex(email="fed@b.co", user_id=user.id))
    before = passwords.verifications
    with pytest.raises(InvalidCredentialsError):
        service.login("fed@b.co", PASSWORD, 0.0)
    assert passwords.verifications == before + 1
