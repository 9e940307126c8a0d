"""TOTP second factor: enrol, activate, challenge at login, redeem the challenge, disable.

The TOTP secret is sealed by a SecretBox before it enters an event (bound to the user id);
recovery codes are stored as SHA-256 hashes and returned once, at activation. Wrong codes count
against the challenge (5 attempts) and against the user (MFA_FAILURES_PER_USER), a budget kept
apart from password failures, so a correct password never resets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from application.identity.codes import (
    challenge_id_of,
    new_challenge_token,
    new_recovery_code,
    recovery_code_hash,
    sha256_hex,
)
from application.identity.ports import SecretBox
from application.identity.service import REVOCATION_MARGIN_SECONDS, IdentityService
from application.identity.throttle import MFA_FAILURES_PER_USER, Throttle
from application.identity.tokens import TokenPair
from application.identity.totp import matching_step, new_secret, provisioning_uri
from application.shared.base import retry_on_conflict
from domain.identity.challenge import CHALLENGE_TTL_SECONDS, MfaChallenge
from domain.identity.factor_errors import (
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    MfaAlreadyEnabledError,
    MfaNotEnabledError,
    MfaNotPendingError,
    ReauthenticationRequiredError,
)
from domain.identity.mfa import RECOVERY_CODE_COUNT, FactorState, MfaFactor, mfa_factor_id
from domain.identity.organization import OrganizationAccess, organization_access_id
from domain.identity.session import Session
from domain.identity.user import User
from domain.shared.cause import Cause
from domain.shared.ids import format_id

MFA_AMR = ("pwd", "otp")


@dataclass(frozen=True)
class Enrollment:
    """Shown once, to the user who enrols; never stored in clear."""

    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class MfaChallengeIssued:
    """What a correct password earns when a second factor is active."""

    mfa_token: str
    expires_in: int


@dataclass(frozen=True)
class SecondCode:
    """Exactly one of a TOTP code or a recovery code."""

    totp: str | None = None
    recovery: str | None = None


def _cause(user_id: UUID, request_id: str | None) -> Cause:
    return Cause(actor_id=format_id("user", user_id), request_id=request_id)


class SecondFactors:
    """MFA use cases over the identity service's store."""

    def __init__(self, identity: IdentityService, box: SecretBox, throttle: Throttle) -> None:
        self._identity = identity
        self._box = box
        self._throttle = throttle

    def enroll(self, user_id: UUID, now: float, *, request_id: str | None = None) -> Enrollment:
        """Start (or restart) enrolment with a new secret; an active factor must be disabled."""
        user = self._identity.user(user_id)
        secret = new_secret()
        sealed = self._box.seal(secret.encode(), _context(user_id))
        cause = _cause(user_id, request_id)

        def attempt() -> None:
            factor = self._factor(user_id)
            if factor is None:
                factor = MfaFactor(user_id=user_id, sealed_secret=sealed, at=now, cause=cause)
            else:
                factor.reenroll(sealed, now, cause)
            self._identity.save(factor)

        retry_on_conflict(attempt)
        return Enrollment(secret=secret, otpauth_uri=provisioning_uri(secret, user.email))

    def activate(self, user_id: UUID, code: str, now: float, *,
                 request_id: str | None = None) -> list[str]:
        """A valid code turns the pending factor on; returns the recovery codes, once."""
        self._throttle.ensure_allowed(MFA_FAILURES_PER_USER, user_id.hex)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        cause = _cause(user_id, request_id)

        def attempt() -> bool:
            factor = self._factor(user_id)
            if factor is not None and factor.is_active:
                raise MfaAlreadyEnabledError
            if factor is None or factor.state is not FactorState.PENDING:
                raise MfaNotPendingError
            step = matching_step(self._secret(factor), code, now)
            if step is None:
                return False
            factor.activate(step, [recovery_code_hash(c) for c in codes], now, cause)
            self._identity.save(factor)
            return True

        if not retry_on_conflict(attempt):
            self._throttle.record_failure(MFA_FAILURES_PER_USER, user_id.hex)
            raise InvalidMfaCodeError
        return codes

    def challenge(self, user: User, now: float, cause: Cause) -> MfaChallengeIssued:
        challenge_id = uuid4()
        token = new_challenge_token(challenge_id)
        self._identity.save(MfaChallenge.issue(id=challenge_id, user_id=user.id,
                                               secret_hash=sha256_hex(token), now=now,
                                               cause=cause))
        return MfaChallengeIssued(mfa_token=token, expires_in=CHALLENGE_TTL_SECONDS)

    def verify_login(self, mfa_token: str, code: SecondCode, now: float, *,
                     request_id: str | None = None) -> TokenPair:
        """Redeem a challenge with a code: the session records both factors (aal 2)."""
        challenge_id = challenge_id_of(mfa_token)
        presented = sha256_hex(mfa_token)
        user_id = self._open_challenge(challenge_id, presented, now).user_id
        self._throttle.ensure_allowed(MFA_FAILURES_PER_USER, user_id.hex)
        cause = _cause(user_id, request_id)

        def attempt() -> TokenPair | None:
            challenge = self._open_challenge(challenge_id, presented, now)
            factor = self._factor(user_id)
            if factor is None or not factor.is_active:
                raise InvalidMfaChallengeError  # disabled meanwhile: sign in again
            if not self._spend(factor, code, now, cause):
                challenge.fail(now, cause)
                self._identity.save(challenge)
                return None
            challenge.complete(now, cause)
            return self._identity.open_session(self._identity.user(user_id), now, cause,
                                               amr=MFA_AMR, also_save=[challenge, factor])

        pair = retry_on_conflict(attempt)
        if pair is None:
            self._throttle.record_failure(MFA_FAILURES_PER_USER, user_id.hex)
            raise InvalidMfaCodeError
        return pair

    def disable(self, user_id: UUID, current_session: str | None, password: str,
                code: SecondCode, now: float, *, request_id: str | None = None) -> int:
        """Password plus a current code turn MFA off; returns how many other sessions ended."""
        self._throttle.ensure_allowed(MFA_FAILURES_PER_USER, user_id.hex)
        user = self._identity.user(user_id)
        password_ok = self._identity.password_matches(user, password)
        cause = _cause(user_id, request_id)

        def attempt() -> bool:
            factor = self._factor(user_id)
            if factor is None or not factor.is_active:
                raise MfaNotEnabledError
            if not password_ok or not self._spend(factor, code, now, cause):
                return False
            factor.disable(now, cause)
            self._identity.save(factor)
            return True

        if not retry_on_conflict(attempt):
            self._throttle.record_failure(MFA_FAILURES_PER_USER, user_id.hex)
            raise ReauthenticationRequiredError
        return self._end_other_sessions(user, current_session, now, request_id)

    # -- helpers ----------------------------------------------------------------------------

    def _spend(self, factor: MfaFactor, code: SecondCode, now: float, cause: Cause) -> bool:
        """Use the code on the factor (not yet saved); False when wrong or replayed."""
        try:
            if code.recovery is not None:
                factor.use_recovery_code(recovery_code_hash(code.recovery), now, cause)
                return True
            step = matching_step(self._secret(factor), code.totp or "", now)
            if step is None:
                return False
            factor.use_totp(step, now, cause)
        except InvalidMfaCodeError:
            return False
        return True

    def _end_other_sessions(self, user: User, keep: str | None, now: float,
                            request_id: str | None) -> int:
        access = self._identity.get_or_none(organization_access_id(user.organization_id))
        if not isinstance(access, OrganizationAccess):
            return 0
        policy = self._identity.policy
        cutoff = now - policy.access_ttl_seconds - REVOCATION_MARGIN_SECONDS
        ended = 0
        for session_id in access.sessions_alive_after(cutoff):
            if format_id("sess", session_id) == keep:
                continue
            session = self._identity.get_or_none(session_id)
            if isinstance(session, Session) and session.user_id == user.id \
                    and not session.is_revoked:
                self._identity.logout(session_id, now, request_id=request_id)
                ended += 1
        return ended

    def _open_challenge(self, challenge_id: UUID, presented: str, now: float) -> MfaChallenge:
        challenge = self._identity.get_or_none(challenge_id)
        if not isinstance(challenge, MfaChallenge):
            raise InvalidMfaChallengeError
        challenge.check(presented, now)
        return challenge

    def _factor(self, user_id: UUID) -> MfaFactor | None:
        factor = self._identity.get_or_none(mfa_factor_id(user_id))
        return factor if isinstance(factor, MfaFactor) else None

    def _secret(self, factor: MfaFactor) -> str:
        return self._box.open(factor.sealed_secret, _context(factor.user_id)).decode()


def _context(user_id: UUID) -> bytes:
    return b"bitstride-mfa-totp:" + user_id.bytes
