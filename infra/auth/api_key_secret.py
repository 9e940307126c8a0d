"""The server secret that keys API-key digests (HMAC-SHA256), and the hasher using it.

A leaked database alone cannot confirm a guessed key without this secret. Embedded, it is
generated once into `data_dir/auth/api-key-secret` (mode 0600), like the signing key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from infra.settings import Settings, SettingsError

MIN_SECRET_LENGTH = 32


class HmacApiKeyHasher:
    """Implements application.identity.ports.ApiKeyHasher."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()


def api_key_secret_path(settings: Settings) -> Path:
    return settings.data_dir / "auth" / "api-key-secret"


def api_key_hasher(settings: Settings) -> HmacApiKeyHasher:
    if settings.api_key_secret is not None:
        if len(settings.api_key_secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"API_KEY_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        return HmacApiKeyHasher(settings.api_key_secret.encode())
    return HmacApiKeyHasher(load_or_create_secret(api_key_secret_path(settings)))


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret, or write a new random one with a race-safe hard link (mode 0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process won: use theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{path} holds a secret shorter than {MIN_SECRET_LENGTH} characters")
    return secret.encode()
