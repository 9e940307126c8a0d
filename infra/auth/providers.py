"""Builds the configured login providers (OAUTH_PROVIDERS) into IdentityProvider objects."""

from __future__ import annotations

from application.identity.provider_login import IdentityProvider
from infra.auth.github import GitHubProvider
from infra.auth.oidc import HttpFactory, OidcProvider, default_http
from infra.auth.provider_config import parse_providers


def build_providers(raw: str | None, *,
                    http: HttpFactory = default_http) -> dict[str, IdentityProvider]:
    providers: dict[str, IdentityProvider] = {}
    for name, config in parse_providers(raw).items():
        providers[name] = (GitHubProvider(config, http=http) if config.kind == "github"
                           else OidcProvider(config, http=http))
    return providers
