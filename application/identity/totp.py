"""RFC 6238 TOTP as authenticator apps expect it: SHA-1, 6 digits, 30 s steps, ±1 step skew."""

from __future__ import annotations

import hmac

import pyotp

STEP_SECONDS = 30
DIGITS = 6
VALID_WINDOW = 1
ISSUER = "Bitstride"


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226 recommends at least 128)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER)


def time_step(now: float) -> int:
    return int(now) // STEP_SECONDS


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time-step whose code equals `code` within the skew window, else None.

    Which step matched matters: the factor accepts each step once (replay protection).
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    found: int | None = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step  # no early exit: every candidate costs the same
    return found
