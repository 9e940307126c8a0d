"""The gateway's proxying settings and its scope group."""

from __future__ import annotations

import pytest

from domain.identity.scopes import grants, known_scopes
from infra.settings import SettingsError, load_settings


def test_gateway_timeouts_and_pool_are_read_and_checked() -> None:
    defaults = load_settings({})
    assert (defaults.gateway_connect_timeout_seconds, defaults.gateway_first_byte_timeout_seconds,
            defaults.gateway_chunk_timeout_seconds, defaults.gateway_total_timeout_seconds,
            defaults.gateway_keepalive_seconds, defaults.gateway_pool_size) == (
        5.0, 60.0, 60.0, 600.0, 15.0, 100)
    settings = load_settings({"GATEWAY_KEEPALIVE_SECONDS": "0.5", "GATEWAY_POOL_SIZE": "8"})
    assert (settings.gateway_keepalive_seconds, settings.gateway_pool_size) == (0.5, 8)
    with pytest.raises(SettingsError, match="GATEWAY_TOTAL_TIMEOUT_SECONDS must be greater"):
        load_settings({"GATEWAY_TOTAL_TIMEOUT_SECONDS": "0"})
    with pytest.raises(SettingsError, match="GATEWAY_POOL_SIZE must be an integer"):
        load_settings({"GATEWAY_POOL_SIZE": "many"})


def test_inference_is_a_scope_group() -> None:
    assert {"inference:read", "inference:write"} <= set(known_scopes())
    assert grants(["inference:write"], "inference:read")
    assert grants(["read"], "inference:read") and not grants(["read"], "inference:write")
    assert grants(["all"], "inference:write")
