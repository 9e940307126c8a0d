"""MfaFactor, MfaChallenge, EmailVerification and User verification: rules without I/O."""

from __future__ import annotations

import uuid

import pytest

from domain.identity.challenge import CHALLENGE_TTL_SECONDS, MAX_CHALLENGE_ATTEMPTS, MfaChallenge
from domain.identity.factor_errors import (
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    InvalidVerificationTokenError,
    MfaAlreadyEnabledError,
    MfaNotEnabledError,
    MfaNotPendingError,
)
from domain.identity.mfa import FactorState, MfaFactor, mfa_factor_id
from domain.identity.session_factors import assurance_level
from domain.identity.user import User
from domain.identity.verification import VERIFICATION_TTL_SECONDS, EmailVerification
from domain.shared.cause import Cause

CAUSE = Cause(actor_id="user_test")
HASHES = [f"h{i}" for i in range(10)]
NOW = 1_800_000_000.0


def factor() -> MfaFactor:
    return MfaFactor(user_id=uuid.uuid4(), sealed_secret="sealed", at=NOW, cause=CAUSE)


def test_factor_is_pending_until_activated_and_its_id_derives_from_the_user() -> None:
    f = factor()
    assert f.id == mfa_factor_id(f.user_id)
    assert f.state is FactorState.PENDING and not f.is_active
    with pytest.raises(MfaNotEnabledError):
        f.use_totp(5, NOW, CAUSE)
    f.activate(100, HASHES, NOW, CAUSE)
    assert f.is_active and f.last_step == 100


def test_totp_steps_are_accepted_once_and_only_forwards() -> None:
    f = factor()
    f.activate(100, HASHES, NOW, CAUSE)
    with pytest.raises(InvalidMfaCodeError):
        f.use_totp(100, NOW, CAUSE)  # the activation code is consumed
    f.use_totp(101, NOW, CAUSE)
    for replay in (101, 99):
        with pytest.raises(InvalidMfaCodeError):
            f.use_totp(replay, NOW, CAUSE)


def test_recovery_codes_work_once() -> None:
    f = factor()
    f.activate(1, HASHES, NOW, CAUSE)
    f.use_recovery_code("h3", NOW, CAUSE)
    with pytest.raises(InvalidMfaCodeError):
        f.use_recovery_code("h3", NOW, CAUSE)
    assert len(f.recovery_hashes) == 9


def test_active_factor_refuses_reenrolment_and_disabled_is_terminal_until_reenrolled() -> None:
    f = factor()
    f.activate(1, HASHES, NOW, CAUSE)
    with pytest.raises(MfaAlreadyEnabledError):
        f.reenroll("other", NOW, CAUSE)
    f.disable(NOW, CAUSE)
    assert f.state is FactorState.DISABLED and f.recovery_hashes == []
    with pytest.raises(MfaNotPendingError):
        f.activate(2, HASHES, NOW, CAUSE)
    with pytest.raises(MfaNotEnabledError):
        f.disable(NOW, CAUSE)
    f.reenroll("other", NOW, CAUSE)
    assert f.state is FactorState.PENDING and f.last_step is None


def test_challenge_allows_five_wrong_codes_then_is_burned() -> None:
    c = MfaChallenge.issue(id=uuid.uuid4(), user_id=uuid.uuid4(), secret_hash="s", now=NOW,
                           cause=CAUSE)
    for _ in range(MAX_CHALLENGE_ATTEMPTS):
        c.check("s", NOW)
        c.fail(NOW, CAUSE)
    with pytest.raises(InvalidMfaChallengeError):
        c.check("s", NOW)


def test_challenge_is_single_use_expires_and_needs_its_secret() -> None:
    c = MfaChallenge.issue(id=uuid.uuid4(), user_id=uuid.uuid4(), secret_hash="s", now=NOW,
                           cause=CAUSE)
    with pytest.raises(InvalidMfaChallengeError):
        c.check("wrong", NOW)
    with pytest.raises(InvalidMfaChallengeError):
        c.check("s", NOW + CHALLENGE_TTL_SECONDS)
    c.complete(NOW, CAUSE)
    with pytest.raises(InvalidMfaChallengeError):
        c.check("s", NOW)


def test_verification_token_is_single_use_and_expires_after_a_day() -> None:
    v = EmailVerification.issue(token_hash="t", user_id=uuid.uuid4(), email="a@b.co", now=NOW,
                                cause=CAUSE)
    with pytest.raises(InvalidVerificationTokenError):
        v.use(NOW + VERIFICATION_TTL_SECONDS, CAUSE)
    v.use(NOW + 1, CAUSE)
    with pytest.raises(InvalidVerificationTokenError):
        v.use(NOW + 2, CAUSE)


def test_user_verifies_only_its_current_email_once() -> None:
    user = User.register(user_id=uuid.uuid4(), email="a@b.co", name="A", password_hash="x",
                         registered_at=NOW, cause=CAUSE)
    assert not user.email_verified
    assert not user.verify_email("other@b.co", NOW, CAUSE)
    assert user.verify_email("a@b.co", NOW, CAUSE)
    assert not user.verify_email("a@b.co", NOW, CAUSE)
    assert user.email_verified


def test_assurance_level_counts_distinct_factors() -> None:
    assert assurance_level(("pwd",)) == 1
    assert assurance_level(("pwd", "otp")) == 2
