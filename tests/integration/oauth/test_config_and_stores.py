"""OAUTH_PROVIDERS parsing, the pending-flow stores, and CORS for first-party frontends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from litestar.testing import TestClient

from application.identity.provider_login import InvalidStateError, ProviderFlows
from infra.auth.provider_config import GOOGLE_ISSUER, ProviderConfigError, parse_providers
from infra.flows import InMemoryFlowStore, RedisFlowStore
from infra.settings import Settings, load_settings
from interfaces.control_plane import ControlPlane
from interfaces.http.app import create_control_plane_app


class TestProviderConfig:
    def test_list_and_map_forms(self) -> None:
        entry = {"kind": "oidc", "issuer": "https://idp.example.com", "client_id": "c",
                 "client_secret": "s"}
        as_list = parse_providers(json.dumps([{**entry, "name": "corp"}]))
        as_map = parse_providers(json.dumps({"corp": entry}))
        assert as_list == as_map
        assert as_list["corp"].issuer == "https://idp.example.com"

    def test_google_and_github_defaults(self) -> None:
        providers = parse_providers(json.dumps([
            {"name": "google", "kind": "google", "client_id": "c", "client_secret": "s"},
            {"name": "github", "kind": "github", "client_id": "c", "client_secret": "s"}]))
        assert providers["google"].issuer == GOOGLE_ISSUER
        assert providers["github"].token_endpoint is None  # GitHub's own, unless overridden

    def test_unset_means_no_providers(self) -> None:
        assert parse_providers(None) == {}
        assert parse_providers(load_settings({}).oauth_providers) == {}

    @pytest.mark.parametrize("raw", [
        "{not json", "42", '[{"kind": "oidc"}]',
        '[{"name": "Bad Name", "client_id": "c", "client_secret": "s", "issuer": "https://x"}]',
        '[{"name": "a", "kind": "saml", "client_id": "c", "client_secret": "s"}]',
        '[{"name": "a", "kind": "oidc", "client_id": "c", "client_secret": "s"}]',
        '[{"name": "a", "kind": "github", "client_id": "c"}]',
        '[{"name": "a", "kind": "oidc", "client_id": "c", "client_secret": "s", '
        '"issuer": "ftp://x"}]',
        '[{"name": "a", "kind": "github", "client_id": "c", "client_secret": "s"},'
        ' {"name": "a", "kind": "github", "client_id": "c", "client_secret": "s"}]',
    ])
    def test_malformed_fails_with_one_line_and_no_secret(self, raw: str) -> None:
        with pytest.raises(ProviderConfigError) as caught:
            parse_providers(raw)
        assert "\n" not in str(caught.value)
        assert '"s"' not in str(caught.value)

    def test_secret_not_in_repr(self) -> None:
        config = parse_providers(json.dumps([{"name": "a", "kind": "github", "client_id": "c",
                                              "client_secret": "hunter2-secret"}]))["a"]
        assert "hunter2-secret" not in repr(config)


class TestFlowStores:
    def test_in_memory_take_is_single_use_and_expires(self) -> None:
        now = [100.0]
        store = InMemoryFlowStore(clock=lambda: now[0])
        store.put("a", "1", 10)
        assert store.take("a") == "1"
        assert store.take("a") is None
        store.put("b", "2", 10)
        now[0] = 111.0
        assert store.take("b") is None

    @pytest.mark.redis
    def test_redis_take_is_single_use(self, redis_url: str) -> None:
        store = RedisFlowStore(redis.Redis.from_url(redis_url), key_prefix="test:oauth-flow:")
        store.put("k", "value", 10)
        assert store.take("k") == "value"
        assert store.take("k") is None

    def test_flows_bind_state_to_flow_id(self) -> None:
        flows = ProviderFlows(InMemoryFlowStore())
        started = flows.start("mock", None, now=1000.0)
        other = flows.start("mock", None, now=1000.0)
        with pytest.raises(InvalidStateError):
            flows.finish("mock", other.flow_id, started.state, now=1001.0)
        with pytest.raises(InvalidStateError):  # the mismatch spent the other flow
            flows.finish("mock", other.flow_id, other.state, now=1001.0)
        flow = flows.finish("mock", started.flow_id, started.state, now=1001.0)
        assert flow.provider == "mock"
        assert started.state not in flow.state_hash


class TestCors:
    def preflight(self, settings: Settings, origin: str) -> dict[str, str]:
        plane = ControlPlane(settings)
        try:
            with TestClient(create_control_plane_app(plane, "full")) as client:
                response = client.options("/v1/orgs/current", headers={
                    "Origin": origin, "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization"})
                return dict(response.headers)
        finally:
            plane.close()

    def test_configured_origin_may_call_with_credentials(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "var", cors_origins=("https://app.example.com",))
        headers = self.preflight(settings, "https://app.example.com")
        assert headers["access-control-allow-origin"] == "https://app.example.com"
        assert headers["access-control-allow-credentials"] == "true"

    def test_other_origins_get_no_cors_headers(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "var", cors_origins=("https://app.example.com",))
        headers = self.preflight(settings, "https://evil.example.com")
        assert headers.get("access-control-allow-origin") != "https://evil.example.com"
        unset = self.preflight(Settings(data_dir=tmp_path / "var2"), "https://app.example.com")
        assert "access-control-allow-origin" not in unset
