"""Secrets handed to users (verification links, MFA challenges, recovery codes) and their hashes.

Every one is high-entropy random, so an unsalted SHA-256 is enough to store: guessing the
input is as hard as guessing the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from uuid import UUID

from domain.identity.factor_errors import InvalidMfaChallengeError

_CHALLENGE = re.compile(r"^mfa_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
RECOVERY_CODE_BYTES = 10  # 80 bits


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_verification_token() -> str:
    """256 bits, URL-safe, so it travels in a link as is."""
    return secrets.token_urlsafe(32)


def new_challenge_token(challenge_id: UUID) -> str:
    """`mfa_<challenge hex>_<256-bit secret>`: the id finds the challenge in one read."""
    return f"mfa_{challenge_id.hex}_{secrets.token_urlsafe(32)}"


def challenge_id_of(token: str) -> UUID:
    match = _CHALLENGE.match(token)
    if match is None:
        raise InvalidMfaChallengeError
    return UUID(hex=match.group(1))


def new_recovery_code() -> str:
    """80 random bits as 16 base32 characters in groups of four: `ABCD-EFGH-IJKL-MNOP`."""
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode()
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def recovery_code_hash(code: str) -> str:
    """Hash of the normalized code, so case, spaces and dashes do not matter when typed."""
    normalized = re.sub(r"[\s-]", "", code).upper()
    return sha256_hex(normalized)
