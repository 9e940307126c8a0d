"""AES-256-GCM sealing of TOTP secrets before they are recorded in events.

The key comes from MFA_ENCRYPTION_KEY (32 bytes, base64url) or a key file created once under
`<data_dir>/auth/` (mode 0600), like the signing key. Sealed values read
`v1.<key id>.<base64url(nonce || ciphertext)>`; the key id lets a rotation find the old key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_key(text: str) -> bytes:
    """The 32-byte key from its base64url text; ValueError names what is wrong, not the key."""
    try:
        key = _unb64(text.strip())
    except ValueError:
        raise ValueError("MFA_ENCRYPTION_KEY must be base64url") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"MFA_ENCRYPTION_KEY must decode to {KEY_BYTES} bytes")
    return key


class AesGcmSecretBox:
    """Implements application.identity.ports.SecretBox."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the MFA key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"bitstride-mfa-key-id:" + key).hexdigest()[:8]

    @classmethod
    def load_or_create(cls, path: Path) -> AesGcmSecretBox:
        if not path.exists():
            _write_new_key(path)
        return cls(decode_key(path.read_text()))

    def seal(self, plaintext: bytes, context: bytes) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return f"v1.{self.key_id}.{_b64(nonce + self._aead.encrypt(nonce, plaintext, context))}"

    def open(self, sealed: str, context: bytes) -> bytes:
        version, key_id, body = [*sealed.split("."), "", ""][:3]
        if version != "v1" or key_id != self.key_id:
            raise ValueError("the sealed secret was made with another MFA key")
        raw = _unb64(body)
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
        except InvalidTag:
            raise ValueError("the sealed secret is corrupt or bound elsewhere") from None


def _write_new_key(path: Path) -> None:
    """Private temp file, then hard link: of two racing processes, both end with one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(_b64(secrets.token_bytes(KEY_BYTES)) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
