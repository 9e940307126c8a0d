"""Verification, MFA and sign-in use cases on the in-memory store, with a fake clock and mailer."""

from __future__ import annotations

import jwt
import pyotp
import pytest

from application.identity.mfa import MfaChallengeIssued, SecondCode
from application.identity.throttle import (
    LOGIN_FAILURES_PER_ACCOUNT,
    MFA_FAILURES_PER_USER,
    REFRESHES_PER_SESSION,
    VERIFY_RESENDS_PER_EMAIL,
)
from application.identity.tokens import TokenPair
from application.identity.totp import matching_step, time_step
from domain.identity.errors import InvalidCredentialsError
from domain.identity.factor_errors import (
    EmailNotVerifiedError,
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    InvalidVerificationTokenError,
    MfaAlreadyEnabledError,
    MfaRequiredError,
    ReauthenticationRequiredError,
    ThrottledError,
)
from domain.shared.ids import format_id
from tests.unit.identity.factor_fakes import PASSWORD, World
from tests.unit.identity.test_identity_service import stored_states


def claims(pair: TokenPair) -> dict[str, object]:
    return jwt.decode(pair.access_token, options={"verify_signature": False})


def mfa_login(world: World) -> MfaChallengeIssued:
    result = world.sign_in.login("ada@example.com", PASSWORD, world.now, client_ip="1.2.3.4")
    assert isinstance(result, MfaChallengeIssued)
    return result


# -- email verification ------------------------------------------------------------------------


def test_verification_link_verifies_once_and_stores_only_a_hash() -> None:
    world = World()
    user_id = world.register()
    assert world.verifications.send(user_id, world.now)
    token = world.mailer.last_token()
    assert len(token) >= 43  # 256 bits
    assert world.verifications.verify(token, world.now) is False
    assert world.identity.user(user_id).email_verified
    with pytest.raises(InvalidVerificationTokenError):
        world.verifications.verify(token, world.now)
    assert token.encode() not in stored_states(world.identity)


def test_verification_token_expires_and_unknown_tokens_fail_alike() -> None:
    world = World()
    user_id = world.register()
    world.verifications.send(user_id, world.now)
    token = world.mailer.last_token()
    for bad in ("nope", "", "x" * 500):
        with pytest.raises(InvalidVerificationTokenError):
            world.verifications.verify(bad, world.now)
    world.clock.advance(24 * 3600)
    with pytest.raises(InvalidVerificationTokenError):
        world.verifications.verify(token, world.now)


def test_a_second_link_after_verification_reports_already_verified() -> None:
    world = World()
    user_id = world.register()
    world.verifications.send(user_id, world.now)
    first = world.mailer.last_token()
    world.verifications.resend("ada@example.com", world.now)
    second = world.mailer.last_token()
    assert world.verifications.verify(first, world.now) is False
    assert world.verifications.verify(second, world.now) is True
    assert not world.verifications.send(user_id, world.now)  # nothing to send any more


def test_resend_is_silent_for_unknown_addresses_and_throttled_per_address() -> None:
    world = World()
    world.verifications.resend("ghost@example.com", world.now)
    assert world.mailer.sent == []
    for _ in range(VERIFY_RESENDS_PER_EMAIL.limit):
        world.verifications.accept_resend("ghost@example.com", "1.2.3.4")
    with pytest.raises(ThrottledError) as caught:
        world.verifications.accept_resend(" GHOST@example.com", "5.6.7.8")
    assert 0 < caught.value.retry_after <= VERIFY_RESENDS_PER_EMAIL.window_seconds


def test_unverified_users_may_not_sign_in_when_required() -> None:
    world = World(require_verified_email=True)
    user_id = world.register()
    with pytest.raises(EmailNotVerifiedError):
        world.sign_in.login("ada@example.com", PASSWORD, world.now, client_ip="ip")
    world.verifications.send(user_id, world.now)
    world.verifications.verify(world.mailer.last_token(), world.now)
    assert isinstance(world.sign_in.login("ada@example.com", PASSWORD, world.now,
                                          client_ip="ip"), TokenPair)


# -- MFA ---------------------------------------------------------------------------------------


def test_plain_login_records_the_password_factor_only() -> None:
    world = World()
    world.register()
    pair = world.sign_in.login("ada@example.com", PASSWORD, world.now, client_ip="ip")
    assert isinstance(pair, TokenPair)
    assert claims(pair)["amr"] == ["pwd"] and claims(pair)["aal"] == 1


def test_mfa_login_needs_a_fresh_code_and_its_tokens_record_both_factors() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    challenge = mfa_login(world)
    assert challenge.expires_in == 300
    with pytest.raises(MfaRequiredError):
        world.identity.login("ada@example.com", PASSWORD, world.now)
    pair = world.factors.verify_login(challenge.mfa_token, SecondCode(totp=totp.at(world.now)),
                                      world.now)
    assert claims(pair)["amr"] == ["pwd", "otp"] and claims(pair)["aal"] == 2
    refreshed = world.sign_in.refresh(pair.refresh_token, world.now)
    assert claims(refreshed)["aal"] == 2  # a refresh keeps the session's factors
    with pytest.raises(InvalidMfaChallengeError):  # the challenge worked once
        world.factors.verify_login(challenge.mfa_token, SecondCode(totp=totp.at(world.now + 30)),
                                   world.now)


def test_the_secret_is_sealed_and_codes_are_hashed_in_the_log() -> None:
    world = World()
    user_id = world.register()
    enrollment = world.factors.enroll(user_id, world.now)
    codes = world.factors.activate(user_id, pyotp.TOTP(enrollment.secret).at(world.now),
                                   world.now)
    assert len(codes) == 10 and len(set(codes)) == 10
    log = stored_states(world.identity)
    assert enrollment.secret.encode() not in log
    assert not any(code.encode() in log or code.replace("-", "").encode() in log
                   for code in codes)


def test_totp_replay_is_refused_on_a_new_challenge() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    code = totp.at(world.now)
    world.factors.verify_login(mfa_login(world).mfa_token, SecondCode(totp=code), world.now)
    with pytest.raises(InvalidMfaCodeError):
        world.factors.verify_login(mfa_login(world).mfa_token, SecondCode(totp=code), world.now)


def test_the_enrolment_code_cannot_be_reused_for_the_first_login() -> None:
    world = World()
    user_id = world.register()
    totp = pyotp.TOTP(world.factors.enroll(user_id, world.now).secret)
    world.factors.activate(user_id, totp.at(world.now), world.now)
    with pytest.raises(InvalidMfaCodeError):
        world.factors.verify_login(mfa_login(world).mfa_token,
                                   SecondCode(totp=totp.at(world.now)), world.now)


@pytest.mark.parametrize(("offset", "accepted"), [(-60, False), (-30, True), (0, True),
                                                  (30, True), (60, False)])
def test_one_step_of_skew_either_way(offset: int, accepted: bool) -> None:
    secret = pyotp.random_base32()
    now = 1_800_000_000.0
    step = matching_step(secret, pyotp.TOTP(secret).at(now + offset), now)
    assert (step == time_step(now + offset)) if accepted else step is None


def test_recovery_codes_sign_in_once_each() -> None:
    world = World()
    user_id = world.register()
    _, codes = world.enable_mfa(user_id)
    typed = codes[0].lower().replace("-", " ")
    world.factors.verify_login(mfa_login(world).mfa_token, SecondCode(recovery=typed), world.now)
    with pytest.raises(InvalidMfaCodeError):
        world.factors.verify_login(mfa_login(world).mfa_token, SecondCode(recovery=codes[0]),
                                   world.now)


def test_challenge_is_burned_after_five_wrong_codes_even_for_the_right_one() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    challenge = mfa_login(world)
    for _ in range(5):
        with pytest.raises(InvalidMfaCodeError):
            world.factors.verify_login(challenge.mfa_token, SecondCode(totp="000000"), world.now)
    with pytest.raises(InvalidMfaChallengeError):
        world.factors.verify_login(challenge.mfa_token, SecondCode(totp=totp.at(world.now)),
                                   world.now)


def test_challenge_expires_after_five_minutes() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    challenge = mfa_login(world)
    world.clock.advance(300)
    with pytest.raises(InvalidMfaChallengeError):
        world.factors.verify_login(challenge.mfa_token, SecondCode(totp=totp.at(world.now)),
                                   world.now)


def test_wrong_codes_across_challenges_hit_the_per_user_limit() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    for _ in range(MFA_FAILURES_PER_USER.limit):
        with pytest.raises(InvalidMfaCodeError):
            world.factors.verify_login(mfa_login(world).mfa_token, SecondCode(totp="000000"),
                                       world.now)
    with pytest.raises(ThrottledError):
        world.factors.verify_login(mfa_login(world).mfa_token,
                                   SecondCode(totp=totp.at(world.now)), world.now)


def test_disable_needs_password_and_code_and_ends_other_sessions() -> None:
    world = World()
    user_id = world.register()
    totp, _ = world.enable_mfa(user_id)
    other = world.factors.verify_login(mfa_login(world).mfa_token,
                                       SecondCode(totp=totp.at(world.now)), world.now)
    world.clock.advance(30)
    mine = world.factors.verify_login(mfa_login(world).mfa_token,
                                      SecondCode(totp=totp.at(world.now)), world.now)
    world.clock.advance(30)
    with pytest.raises(ReauthenticationRequiredError):
        world.factors.disable(user_id, None, "wrong password", SecondCode(totp=totp.at(world.now)),
                              world.now)
    with pytest.raises(ReauthenticationRequiredError):
        world.factors.disable(user_id, None, PASSWORD, SecondCode(totp="000000"), world.now)
    ended = world.factors.disable(user_id, format_id("sess", mine.session_id), PASSWORD,
                                  SecondCode(totp=totp.at(world.now)), world.now)
    assert ended == 1
    assert world.identity.session(other.session_id).is_revoked
    assert not world.identity.session(mine.session_id).is_revoked
    assert isinstance(world.sign_in.login("ada@example.com", PASSWORD, world.now,
                                          client_ip="ip"), TokenPair)


def test_enrolling_again_while_active_is_a_conflict() -> None:
    world = World()
    user_id = world.register()
    world.enable_mfa(user_id)
    with pytest.raises(MfaAlreadyEnabledError):
        world.factors.enroll(user_id, world.now)


# -- throttling ----------------------------------------------------------------------------


def test_failed_logins_lock_an_account_known_or_not_for_its_window() -> None:
    world = World()
    world.register()
    for email in ("ada@example.com", "ghost@example.com"):
        for i in range(LOGIN_FAILURES_PER_ACCOUNT.limit):
            with pytest.raises(InvalidCredentialsError):
                world.sign_in.login(email, "wrong password", world.now, client_ip=f"10.0.0.{i}")
        with pytest.raises(ThrottledError):
            world.sign_in.login(email.upper(), PASSWORD, world.now, client_ip="10.9.9.9")
    world.clock.advance(LOGIN_FAILURES_PER_ACCOUNT.window_seconds)
    assert isinstance(world.sign_in.login("ada@example.com", PASSWORD, world.now,
                                          client_ip="ip"), TokenPair)


def test_refreshes_per_session_are_limited() -> None:
    world = World()
    world.register()
    pair = world.sign_in.login("ada@example.com", PASSWORD, world.now, client_ip="ip")
    assert isinstance(pair, TokenPair)
    for _ in range(REFRESHES_PER_SESSION.limit):
        pair = world.sign_in.refresh(pair.refresh_token, world.now)
    with pytest.raises(ThrottledError):
        world.sign_in.refresh(pair.refresh_token, world.now)
