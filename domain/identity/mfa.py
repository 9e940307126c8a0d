"""A user's TOTP factor: pending until a first code proves enrolment, then active until disabled.

The aggregate stores the TOTP secret only sealed (encrypted by the application) and recovery
codes only as SHA-256 hashes. Codes are matched outside (the domain does no crypto); the
factor decides replay: a TOTP time-step is accepted only if it is later than the last one used
(RFC 6238 §5.2), and each recovery code works once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity.factor_errors import (
    InvalidMfaCodeError,
    MfaAlreadyEnabledError,
    MfaNotEnabledError,
    MfaNotPendingError,
)
from domain.shared.cause import Cause
from domain.shared.ids import derived_id

RECOVERY_CODE_COUNT = 10


class FactorState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


def mfa_factor_id(user_id: UUID) -> UUID:
    return derived_id("mfa-factor", user_id.hex)


class MfaFactor(Aggregate):
    """The one TOTP factor of one user; re-enrolment reuses the aggregate with a new secret."""

    TOPIC = "bitstride.identity.MfaFactor"

    @staticmethod
    def create_id(user_id: UUID, **_: Any) -> UUID:
        return mfa_factor_id(user_id)

    @event("Created", topic="bitstride.identity.MfaFactor.Created")
    def __init__(self, *, user_id: UUID, sealed_secret: str, at: float, cause: Cause) -> None:
        self.user_id = user_id
        self._start(sealed_secret, at, cause)

    @property
    def is_active(self) -> bool:
        return self.state is FactorState.ACTIVE

    def reenroll(self, sealed_secret: str, now: float, cause: Cause) -> None:
        """Replace a pending or disabled factor's secret; an active one must be disabled first."""
        if self.is_active:
            raise MfaAlreadyEnabledError
        self._reenrolled(sealed_secret=sealed_secret, at=now, cause=cause)

    def activate(self, step: int, recovery_hashes: list[str], now: float, cause: Cause) -> None:
        """A first valid code (at `step`) turns the factor on; that step is consumed."""
        if self.state is not FactorState.PENDING:
            raise MfaAlreadyEnabledError if self.is_active else MfaNotPendingError
        if len(set(recovery_hashes)) != RECOVERY_CODE_COUNT:
            raise ValueError(f"need {RECOVERY_CODE_COUNT} distinct recovery codes")
        self._activated(step=step, recovery_hashes=list(recovery_hashes), at=now, cause=cause)

    def use_totp(self, step: int, now: float, cause: Cause) -> None:
        """Accept a code of `step` once: an earlier or equal step is a replay."""
        self._require_active()
        if self.last_step is not None and step <= self.last_step:
            raise InvalidMfaCodeError
        self._totp_used(step=step, at=now, cause=cause)

    def use_recovery_code(self, code_hash: str, now: float, cause: Cause) -> None:
        self._require_active()
        if code_hash not in self.recovery_hashes:
            raise InvalidMfaCodeError
        self._recovery_code_used(code_hash=code_hash, at=now, cause=cause)

    def disable(self, now: float, cause: Cause) -> None:
        self._require_active()
        self._disabled(at=now, cause=cause)

    def _require_active(self) -> None:
        if not self.is_active:
            raise MfaNotEnabledError

    def _start(self, sealed_secret: str, at: float, cause: Cause) -> None:
        self.sealed_secret = sealed_secret
        self.state = FactorState.PENDING
        self.last_step: int | None = None
        self.recovery_hashes: list[str] = []
        self.enrolled_at = at
        self.last_cause = cause

    @event("Reenrolled", topic="bitstride.identity.MfaFactor.Reenrolled")
    def _reenrolled(self, sealed_secret: str, at: float, cause: Cause) -> None:
        self._start(sealed_secret, at, cause)

    @event("Activated", topic="bitstride.identity.MfaFactor.Activated")
    def _activated(self, step: int, recovery_hashes: list[str], at: float, cause: Cause) -> None:
        self.state = FactorState.ACTIVE
        self.last_step = step
        self.recovery_hashes = recovery_hashes
        self.last_cause = cause

    @event("TotpUsed", topic="bitstride.identity.MfaFactor.TotpUsed")
    def _totp_used(self, step: int, at: float, cause: Cause) -> None:
        self.last_step = step
        self.last_cause = cause

    @event("RecoveryCodeUsed", topic="bitstride.identity.MfaFactor.RecoveryCodeUsed")
    def _recovery_code_used(self, code_hash: str, at: float, cause: Cause) -> None:
        self.recovery_hashes = [h for h in self.recovery_hashes if h != code_hash]
        self.last_cause = cause

    @event("Disabled", topic="bitstride.identity.MfaFactor.Disabled")
    def _disabled(self, at: float, cause: Cause) -> None:
        self.state = FactorState.DISABLED
        self.recovery_hashes = []
        self.last_cause = cause
