"""The server secret keying API-key digests: configured, or generated once and kept private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from infra.auth.api_key_secret import api_key_hasher, api_key_secret_path
from infra.settings import Settings, SettingsError


def test_generated_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = api_key_hasher(settings).digest("bsk_x")
    assert api_key_hasher(settings).digest("bsk_x") == first  # same secret after a restart
    assert stat.S_IMODE(os.stat(api_key_secret_path(settings)).st_mode) == 0o600


def test_configured_secret_is_used_and_must_be_long(tmp_path: Path) -> None:
    a = api_key_hasher(Settings(data_dir=tmp_path, api_key_secret="a" * 32)).digest("bsk_x")
    b = api_key_hasher(Settings(data_dir=tmp_path, api_key_secret="b" * 32)).digest("bsk_x")
    assert a != b and "bsk_x" not in a
    assert not api_key_secret_path(Settings(data_dir=tmp_path)).exists()
    with pytest.raises(SettingsError):
        api_key_hasher(Settings(data_dir=tmp_path, api_key_secret="short"))
