"""Auth use cases: register, login, refresh (rotation + reuse detection), logout, org closure.

Every change is an event; events hold argon2id password hashes and SHA-256 refresh-token
hashes, never a password or a token. Raw tokens exist only in the TokenPair returned here.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.identity.ports import AccessTokenSigner, PasswordHasher
from application.identity.tokens import (
    TokenPair,
    TokenPolicy,
    new_refresh_token,
    refresh_token_hash,
    refresh_token_session,
)
from application.ports import Clock, SessionRevocations
from application.shared.base import BitstrideApplication, retry_on_conflict
from domain.identity.credentials import (
    check_new_password,
    normalize_email,
    normalize_name,
    password_length_ok,
)
from domain.identity.email_index import EmailIndex, email_index_id
from domain.identity.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    OrganizationDeletedError,
    RefreshTokenReusedError,
)
from domain.identity.factor_errors import MfaRequiredError
from domain.identity.mfa import MfaFactor, mfa_factor_id
from domain.identity.organization import OrganizationAccess, organization_access_id
from domain.identity.session import RefreshOutcome, RevocationReason, Session
from domain.identity.session_factors import (
    PASSWORD_ONLY,
    SessionFactors,
    assurance_level,
    session_factors_id,
)
from domain.identity.user import User
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError, ValidationFailedError
from domain.shared.ids import format_id

log = structlog.get_logger("bitstride.auth")

# Verifiers accept tokens up to 30 s past `exp`; keep revocations a little longer than that.
REVOCATION_MARGIN_SECONDS = 60


class IdentityService(BitstrideApplication):
    """Users, sessions and organization closure of the auth service. One method per command."""

    name = "Auth"
    # Every login appends to its organization's access record; snapshots keep loading it cheap.
    snapshotting_intervals = {OrganizationAccess: 100}

    def __init__(self, env: Any = None, *, passwords: PasswordHasher, signer: AccessTokenSigner,
                 revocations: SessionRevocations, policy: TokenPolicy,
                 clock: Clock = time.time) -> None:
        super().__init__(env)
        self._passwords = passwords
        self._signer = signer
        self._revocations = revocations
        self.policy = policy
        self.clock = clock
        # Verified against for unknown emails, so they cost as much as a wrong password.
        self._dummy_hash = passwords.hash(secrets.token_urlsafe(16))

    # -- commands ---------------------------------------------------------------------------

    def register(self, email: str, name: str, password: str, *, now: float | None = None,
                 request_id: str | None = None) -> tuple[UUID, int]:
        """Create a user; returns its id and the notification id of its `Created` event."""
        normalized = normalize_email(email)
        normalize_name(name)
        check_new_password(password)
        if self.get_or_none(email_index_id(normalized)) is not None:
            raise EmailTakenError
        user_id = uuid4()
        cause = Cause(actor_id=format_id("user", user_id), request_id=request_id)
        user = User.register(user_id=user_id, email=normalized, name=name,
                             password_hash=self._passwords.hash(password),
                             registered_at=self.clock() if now is None else now, cause=cause)
        claim = EmailIndex(email=normalized, user_id=user_id)
        try:
            recordings = self.save(user, claim)
        except IntegrityError:
            # Another registration of this email committed first (same derived claim id).
            raise EmailTakenError from None
        position = next(r.notification.id for r in recordings
                        if r.domain_event.originator_id == user_id)
        return user_id, position

    def login(self, email: str, password: str, now: float, *,
              request_id: str | None = None) -> TokenPair:
        """Password-only login; users with an active factor go through SignIn (MFA) instead."""
        user = self.authenticate(email, password, request_id=request_id)
        if self.mfa_active(user.id):
            raise MfaRequiredError
        cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
        return retry_on_conflict(lambda: self.open_session(user, now, cause))

    def authenticate(self, email: str, password: str, *,
                     request_id: str | None = None) -> User:
        """Unknown email and wrong password fail alike, after the same amount of hashing."""
        user = self._user_by_email(email)
        if not password_length_ok(password):
            raise InvalidCredentialsError
        if user is None or not user.password_hash:
            # No user, or one who signs in only through a provider: hash anyway, so the
            # answer takes as long as a wrong password and reveals neither case.
            self._passwords.verify(self._dummy_hash, password)
            raise InvalidCredentialsError
        if not self._passwords.verify(user.password_hash, password):
            raise InvalidCredentialsError
        cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
        self._rehash_if_needed(user, password, cause)
        return user

    def password_matches(self, user: User, password: str) -> bool:
        return password_length_ok(password) and self._passwords.verify(user.password_hash,
                                                                       password)

    def open_session(self, user: User, now: float, cause: Cause, *,
                     amr: tuple[str, ...] = PASSWORD_ONLY,
                     also_save: Sequence[Aggregate] = ()) -> TokenPair:
        """Start a session in one save with `also_save` (e.g. a spent MFA challenge)."""
        access = self._organization_access(user.organization_id)
        session_id = uuid4()
        refresh_token = new_refresh_token(session_id)
        expires_at = now + self.policy.refresh_ttl_seconds
        access.add_session(session_id, expires_at)
        session = Session(id=session_id, user_id=user.id, org_id=user.organization_id,
                          refresh_hash=refresh_token_hash(refresh_token), issued_at=now,
                          expires_at=expires_at, cause=cause)
        factors = ([SessionFactors(session_id=session_id, amr=list(amr), cause=cause)]
                   if amr != PASSWORD_ONLY else [])
        self.save(session, access, *factors, *also_save)
        return self._issue(session, refresh_token, now, amr)

    def refresh(self, refresh_token: str, now: float, *,
                request_id: str | None = None) -> TokenPair:
        """Rotate the refresh token; a used one revokes the session and fails."""
        session_id = refresh_token_session(refresh_token)
        presented = refresh_token_hash(refresh_token)

        def attempt() -> TokenPair | None:
            session = self._session_or_none(session_id)
            if session is None or not session.knows_refresh_hash(presented):
                raise InvalidRefreshTokenError
            if self._organization_closed(session.org_id):
                raise OrganizationDeletedError
            cause = Cause(actor_id=format_id("user", session.user_id), request_id=request_id)
            new_token = new_refresh_token(session.id)
            outcome = session.refresh(presented, refresh_token_hash(new_token), now, cause)
            self.save(session)
            if outcome is RefreshOutcome.REUSE_DETECTED:
                return None
            return self._issue(session, new_token, now, self._session_amr(session.id))

        pair = retry_on_conflict(attempt)
        if pair is None:
            self._revoke_access_tokens(session_id)
            log.warning("refresh_token_reused", session_id=format_id("sess", session_id))
            raise RefreshTokenReusedError
        return pair

    def logout(self, session_id: UUID, now: float, *, request_id: str | None = None) -> bool:
        """End a session; idempotent. Returns whether this call ended it."""

        def attempt() -> bool:
            session = self._session_or_none(session_id)
            if session is None:
                raise NotFoundError("No such session.")
            cause = Cause(actor_id=format_id("user", session.user_id), request_id=request_id)
            ended = session.revoke(RevocationReason.LOGOUT, now, cause)
            if ended:
                self.save(session)
            return ended

        ended = retry_on_conflict(attempt)
        self._revoke_access_tokens(session_id)
        return ended

    def close_organization(self, org_id: UUID, now: float, *,
                           request_id: str | None = None) -> int:
        """Refuse new sessions for the org and end its live ones; returns how many were live."""
        cause = Cause(actor_id="control-plane", actor_kind="service", request_id=request_id)

        def close() -> OrganizationAccess:
            access = self._organization_access(org_id)
            access.close(now, cause)
            self.save(access)
            return access

        access = retry_on_conflict(close)
        cutoff = now - self.policy.access_ttl_seconds - REVOCATION_MARGIN_SECONDS
        live = access.sessions_alive_after(cutoff)
        for session_id in live:
            self._revoke_access_tokens(session_id)
            retry_on_conflict(partial(self._end_session, session_id,
                                      RevocationReason.ORGANIZATION_CLOSED, now, cause))
        return len(live)

    def start_session(self, user_id: UUID, now: float, *, request_id: str | None = None,
                      amr: tuple[str, ...] = ("fed",)) -> TokenPair:
        """Sign in a user already authenticated elsewhere (`fed`: a provider login)."""
        user = self.user(user_id)
        cause = Cause(actor_id=format_id("user", user.id), request_id=request_id)
        return retry_on_conflict(lambda: self.open_session(user, now, cause, amr=amr))

    # -- queries ----------------------------------------------------------------------------

    def user(self, user_id: UUID) -> User:
        user = self.get_or_none(user_id)
        if not isinstance(user, User):
            raise NotFoundError("No such user.")
        return user

    def session(self, session_id: UUID) -> Session:
        session = self._session_or_none(session_id)
        if session is None:
            raise NotFoundError("No such session.")
        return session

    def is_organization_closed(self, org_id: UUID) -> bool:
        return self._organization_closed(org_id)

    def jwks(self) -> dict[str, Any]:
        return self._signer.jwks()

    # -- helpers ----------------------------------------------------------------------------

    def _user_by_email(self, email: str) -> User | None:
        try:
            normalized = normalize_email(email)
        except ValidationFailedError:
            return None
        claim = self.get_or_none(email_index_id(normalized))
        if not isinstance(claim, EmailIndex):
            return None
        user = self.get_or_none(claim.user_id)
        return user if isinstance(user, User) else None

    def _rehash_if_needed(self, user: User, password: str, cause: Cause) -> None:
        """Best effort: a concurrent rehash by another login is just as good."""
        if not self._passwords.needs_rehash(user.password_hash):
            return
        user.rehash_password(self._passwords.hash(password), cause)
        with contextlib.suppress(IntegrityError):
            self.save(user)

    def _start_session(self, user: User, now: float, cause: Cause) -> TokenPair:
        return self.open_session(user, now, cause)

    def mfa_active(self, user_id: UUID) -> bool:
        factor = self.get_or_none(mfa_factor_id(user_id))
        return isinstance(factor, MfaFactor) and factor.is_active

    def _session_amr(self, session_id: UUID) -> tuple[str, ...]:
        factors = self.get_or_none(session_factors_id(session_id))
        return tuple(factors.amr) if isinstance(factors, SessionFactors) else PASSWORD_ONLY

    def _issue(self, session: Session, refresh_token: str, now: float,
               amr: tuple[str, ...]) -> TokenPair:
        issued_at = int(now)
        ttl = self.policy.access_ttl_seconds
        claims = {
            "iss": self.policy.issuer,
            "aud": self.policy.audience,
            "sub": format_id("user", session.user_id),
            "org": format_id("org", session.org_id),
            "sid": format_id("sess", session.id),
            "typ": "access",
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": uuid4().hex,
            "amr": list(amr),
            "aal": assurance_level(amr),
        }
        return TokenPair(access_token=self._signer.sign(claims), refresh_token=refresh_token,
                         expires_in=ttl, session_id=session.id)

    def _end_session(self, session_id: UUID, reason: RevocationReason, now: float,
                     cause: Cause) -> None:
        session = self._session_or_none(session_id)
        if session is not None and session.revoke(reason, now, cause):
            self.save(session)

    def _revoke_access_tokens(self, session_id: UUID) -> None:
        """Tell every token verifier at once; the entry outlives any token of the session."""
        self._revocations.revoke(format_id("sess", session_id),
                                 self.policy.access_ttl_seconds + REVOCATION_MARGIN_SECONDS)

    def _session_or_none(self, session_id: UUID) -> Session | None:
        session = self.get_or_none(session_id)
        return session if isinstance(session, Session) else None

    def _organization_access(self, org_id: UUID) -> OrganizationAccess:
        access = self.get_or_none(organization_access_id(org_id))
        if isinstance(access, OrganizationAccess):
            return access
        return OrganizationAccess(org_id=org_id)

    def _organization_closed(self, org_id: UUID) -> bool:
        access = self.get_or_none(organization_access_id(org_id))
        return isinstance(access, OrganizationAccess) and access.is_closed
