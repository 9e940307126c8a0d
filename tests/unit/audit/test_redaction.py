"""Secret-looking payload fields are redacted at any depth; ordinary fields are kept."""

from __future__ import annotations

import pytest

from application.audit.redaction import REDACTED, is_secret_name, redact


@pytest.mark.parametrize("name", [
    "password", "password_hash", "secret_hmac", "sealed_secret", "token_hash", "refresh_hash",
    "recovery_hashes", "code_hash", "mfa_code", "recovery_codes", "otp", "totpSecret",
    "client_secret", "credentials", "private_key", "signing_key", "api-token", "salt",
    "nonce", "pkce_verifier", "Authorization", "accessToken"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "name", "code", "error_code", "key", "api_key_id", "object_key", "file_key",
    "idempotency_key", "trained_tokens", "max_tokens", "sha256", "request_fingerprint",
    "prefix", "last4", "description", "seed"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redaction_is_recursive_and_keeps_the_rest() -> None:
    payload = {"name": "ci", "secret_hmac": "abc", "spec": {"grader": {
        "api_token": "t", "steps": [{"password": "p", "n": 1}]}},
        "error": {"code": "invalid_file", "message": "bad"}}
    assert redact(payload) == {"name": "ci", "secret_hmac": REDACTED, "spec": {"grader": {
        "api_token": REDACTED, "steps": [{"password": REDACTED, "n": 1}]}},
        "error": {"code": "invalid_file", "message": "bad"}}
    assert payload["secret_hmac"] == "abc"  # the input is left alone
