"""Defence in depth: payload fields whose names suggest a secret are never shown.

Events should hold no secrets (hashes and sealed values at most); this hides even those from
audit readers. A field name is split into words (snake_case, camelCase, dashes); a name with a
secret word is redacted, at any depth. A bare `code` is the error objects' code (e.g.
`invalid_file`), so `code` only counts beside another word (`mfa_code`, `recovery_codes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "secret", "secrets", "token", "hash", "hashes",
    "hmac", "otp", "totp", "credential", "credentials", "private", "salt", "nonce",
    "verifier", "signature", "cookie", "authorization", "bearer", "sealed",
})
QUALIFIED_WORDS = frozenset({"code", "codes", "key"})  # secret only as e.g. mfa_code, signing_key
HARMLESS_QUALIFIERS = frozenset({"error", "status", "object", "file", "idempotency", "api",
                                 "country", "currency", "language", "id"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words_of(name: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(name)]


def is_secret_name(name: str) -> bool:
    words = words_of(name)
    if SECRET_WORDS.intersection(words):
        return True
    qualified = QUALIFIED_WORDS.intersection(words)
    others = set(words) - qualified
    return bool(qualified) and bool(others) and not others <= HARMLESS_QUALIFIERS


def redact(value: Any) -> Any:
    """`value` with every secret-named field's value replaced by "[redacted]", recursively."""
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret_name(str(key)) else redact(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value
