"""Provider (OAuth/OIDC) login: the pending flow bound to a browser, and the sign-in itself.

The flow record holds the PKCE verifier and nonce, which are secrets of one login attempt:
they live only in the short-lived flow store, never in events or logs. The browser holds a
random flow id in a cookie; the store is keyed by its hash, and the `state` is kept as a hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.identity.mfa import MfaChallengeIssued, SecondFactors
from application.identity.ports import PendingFlowStore
from application.identity.service import IdentityService
from application.identity.tokens import TokenPair
from domain.identity.credentials import normalize_email
from domain.identity.email_index import EmailIndex, email_index_id
from domain.identity.external_identity import (
    AccountExistsError,
    ExternalIdentity,
    external_identity_id,
)
from domain.identity.factor_errors import MfaRequiredError
from domain.identity.user import User
from domain.shared.cause import Cause
from domain.shared.errors import ValidationFailedError
from domain.shared.ids import format_id

FLOW_TTL_SECONDS = 600


class InvalidStateError(ValidationFailedError):
    """Missing, unknown, used, expired or foreign `state`: the callback is not this browser's."""

    code = "invalid_state"

    def __init__(self) -> None:
        super().__init__("The login attempt is unknown, expired or already used; start again.",
                         param="state")


class ProviderEmailUnverifiedError(ValidationFailedError):
    """Without a provider-verified email we cannot create a user safely."""

    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__("The provider did not confirm a verified email address.")


class ProviderRejectedError(ValidationFailedError):
    """The token endpoint refused the code (used, expired, or issued for another verifier)."""

    code = "provider_rejected"

    def __init__(self) -> None:
        super().__init__("The provider rejected the authorization code; start the login again.")


class InvalidIdTokenError(ValidationFailedError):
    """Signature, issuer, audience, nonce or lifetime of the ID token did not check out."""

    code = "invalid_id_token"

    def __init__(self) -> None:
        super().__init__("The provider's ID token failed verification.")


class ProviderUnavailableError(Exception):
    """The provider did not answer, or answered something unusable (a 503, not the user's fault)."""


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ExternalProfile:
    """Who the provider vouched for: identified by `subject`, never by `email`."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str = ""


class IdentityProvider(Protocol):
    """One configured provider (infra/auth): builds the authorize URL, turns a code into a profile.

    `profile` exchanges the code with the PKCE verifier and client authentication, and for OIDC
    verifies the ID token (signature by the provider's JWKS, issuer, audience, expiry, nonce).
    """

    name: str

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_challenge: str) -> str: ...

    async def profile(self, *, code: str, code_verifier: str, redirect_uri: str,
                      nonce: str) -> ExternalProfile: ...


@dataclass(frozen=True)
class PendingFlow:
    """One started login: what the callback must match, and where to send the browser."""

    provider: str
    state_hash: str
    nonce: str
    code_verifier: str
    redirect_to: str | None
    expires_at: float


@dataclass(frozen=True)
class StartedFlow:
    """What the login route needs: the cookie value and the authorization parameters."""

    flow_id: str
    state: str
    nonce: str
    code_challenge: str


@dataclass(frozen=True)
class ProviderSignIn:
    """Tokens, or (a second factor being active) a challenge to redeem at mfa/verify-login."""

    tokens: TokenPair | None
    challenge: MfaChallengeIssued | None
    user_id: UUID
    created: bool
    position: int | None  # notification id of the new user, for read-your-writes


class ProviderFlows:
    """Starts and finishes flows; every value is 256 bits from `secrets` (ASVS V10.1.2)."""

    def __init__(self, store: PendingFlowStore, ttl_seconds: int = FLOW_TTL_SECONDS) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    def start(self, provider: str, redirect_to: str | None, now: float) -> StartedFlow:
        flow_id, state = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        flow = PendingFlow(provider=provider, state_hash=_sha256(state), nonce=nonce,
                           code_verifier=verifier, redirect_to=redirect_to,
                           expires_at=now + self.ttl_seconds)
        self._store.put(_sha256(flow_id), json.dumps(asdict(flow)), self.ttl_seconds)
        return StartedFlow(flow_id=flow_id, state=state, nonce=nonce,
                           code_challenge=pkce_challenge(verifier))

    def finish(self, provider: str, flow_id: str | None, state: str | None,
               now: float) -> PendingFlow:
        """Consume the browser's flow; any mismatch fails, and the flow is spent either way."""
        if not flow_id or not state:
            raise InvalidStateError
        raw = self._store.take(_sha256(flow_id))
        if raw is None:
            raise InvalidStateError
        flow = PendingFlow(**json.loads(raw))
        if (flow.provider != provider or now >= flow.expires_at
                or not hmac.compare_digest(flow.state_hash, _sha256(state))):
            raise InvalidStateError
        return flow


def sign_in_with_provider(identity: IdentityService, profile: ExternalProfile, now: float, *,
                          factors: SecondFactors | None = None,
                          request_id: str | None = None) -> ProviderSignIn:
    """Sign in the user of (provider, subject); a first login creates the user.

    A new identity whose email is already registered is refused (409 `account_exists`): an
    email match alone never grants access to an existing account. A provider does not stand in
    for the user's own second factor: with one active, the answer is an MFA challenge.
    """
    user_id, created, position = _user_for(identity, profile, now, request_id)
    if identity.mfa_active(user_id):
        if factors is None:
            raise MfaRequiredError
        cause = Cause(actor_id=format_id("user", user_id), request_id=request_id)
        challenge = factors.challenge(identity.user(user_id), now, cause)
        return ProviderSignIn(tokens=None, challenge=challenge, user_id=user_id,
                              created=created, position=position)
    tokens = identity.start_session(user_id, now, request_id=request_id)
    return ProviderSignIn(tokens=tokens, challenge=None, user_id=user_id, created=created,
                          position=position)


def _user_for(identity: IdentityService, profile: ExternalProfile, now: float,
              request_id: str | None) -> tuple[UUID, bool, int | None]:
    key = external_identity_id(profile.provider, profile.subject)
    existing = identity.get_or_none(key)
    if isinstance(existing, ExternalIdentity):
        return existing.user_id, False, None
    if not profile.email or not profile.email_verified:
        raise ProviderEmailUnverifiedError
    email = normalize_email(profile.email)
    if identity.get_or_none(email_index_id(email)) is not None:
        raise AccountExistsError
    user_id = uuid4()
    cause = Cause(actor_id=format_id("user", user_id), request_id=request_id)
    user = User.register_external(user_id=user_id, email=email, name=profile.name[:200],
                                  registered_at=now, cause=cause)
    user.verify_email(email, now, cause)  # the provider verified it (checked above)
    link = ExternalIdentity(provider=profile.provider, subject=profile.subject,
                            user_id=user_id, linked_at=now, cause=cause)
    try:
        recordings = identity.save(user, EmailIndex(email=email, user_id=user_id), link)
    except IntegrityError:
        # A concurrent first login of this subject won (same derived id), or took the email.
        winner = identity.get_or_none(key)
        if isinstance(winner, ExternalIdentity):
            return winner.user_id, False, None
        raise AccountExistsError from None
    position = next(r.notification.id for r in recordings
                    if r.domain_event.originator_id == user_id)
    return user_id, True, position
