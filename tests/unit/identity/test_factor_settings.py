"""Settings of issue 3's sign-in features, and the MFA key's sealing contract."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from infra.auth.secretbox import AesGcmSecretBox, decode_key
from infra.settings import load_settings


def test_trusted_proxies_default_to_loopback_and_parse_a_list() -> None:
    assert load_settings({}).auth_trusted_proxies == ("127.0.0.1", "::1")
    custom = load_settings({"AUTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
    assert custom.auth_trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert load_settings({"MFA_ENCRYPTION_KEY": "k"}).mfa_encryption_key == "k"


def test_mfa_key_must_be_32_bytes_of_base64url() -> None:
    good = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    assert len(decode_key(good)) == 32
    with pytest.raises(ValueError, match="32 bytes"):
        decode_key(base64.urlsafe_b64encode(b"short").decode())


def test_sealed_secrets_open_only_with_their_key_and_context() -> None:
    box = AesGcmSecretBox(os.urandom(32))
    owner = uuid.uuid4().bytes
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", owner)
    assert b"JBSWY3DPEHPK3PXP" not in sealed.encode()
    assert box.open(sealed, owner) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError):
        box.open(sealed, uuid.uuid4().bytes)
    with pytest.raises(ValueError):
        AesGcmSecretBox(os.urandom(32)).open(sealed, owner)
