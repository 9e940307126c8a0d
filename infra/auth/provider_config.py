"""OAUTH_PROVIDERS: the configured login providers, parsed once at startup.

JSON, either a list of objects with a `name`, or an object keyed by name:

    [{"name": "google", "kind": "google", "client_id": "...", "client_secret": "..."},
     {"name": "corp", "kind": "oidc", "issuer": "https://idp.example.com", "client_id": "...",
      "client_secret": "..."},
     {"name": "github", "kind": "github", "client_id": "...", "client_secret": "..."}]

`oidc` needs `issuer` (discovery at `{issuer}/.well-known/openid-configuration`) or
`discovery_url`; `google` is `oidc` with issuer https://accounts.google.com; `github` is OAuth 2
plus GitHub's user API, whose endpoints `authorization_endpoint`, `token_endpoint` and `api_url`
may be overridden (for GitHub Enterprise, or tests).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

ProviderKind = Literal["oidc", "google", "github"]
GOOGLE_ISSUER = "https://accounts.google.com"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_KINDS = ("oidc", "google", "github")
_OPTIONAL = ("issuer", "discovery_url", "authorization_endpoint", "token_endpoint", "api_url")


class ProviderConfigError(ValueError):
    """OAUTH_PROVIDERS is malformed; the message names what to fix (never a secret)."""


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: ProviderKind
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str | None = None
    discovery_url: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    api_url: str | None = None


def parse_providers(raw: str | None) -> dict[str, ProviderConfig]:
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ProviderConfigError(f"OAUTH_PROVIDERS is not valid JSON: {error.msg}") from None
    if isinstance(data, dict):
        entries = [{**entry, "name": name} if isinstance(entry, dict) else entry
                   for name, entry in data.items()]
    elif isinstance(data, list):
        entries = data
    else:
        raise ProviderConfigError("OAUTH_PROVIDERS must be a JSON list or object")
    providers: dict[str, ProviderConfig] = {}
    for entry in entries:
        config = _provider(entry)
        if config.name in providers:
            raise ProviderConfigError(f"OAUTH_PROVIDERS names {config.name!r} twice")
        providers[config.name] = config
    return providers


def _provider(entry: Any) -> ProviderConfig:
    if not isinstance(entry, dict):
        raise ProviderConfigError("each OAUTH_PROVIDERS entry must be a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProviderConfigError(
            "each OAUTH_PROVIDERS entry needs a `name` of lower-case letters, digits, - or _")
    kind = entry.get("kind", "oidc")
    if kind not in _KINDS:
        raise ProviderConfigError(f"OAUTH_PROVIDERS[{name}].kind must be one of "
                                  f"{', '.join(_KINDS)}")
    for key in ("client_id", "client_secret"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ProviderConfigError(f"OAUTH_PROVIDERS[{name}] needs a non-empty `{key}`")
    optional = {key: entry.get(key) for key in _OPTIONAL}
    for key, value in optional.items():
        if value is not None and not (isinstance(value, str)
                                      and value.startswith(("https://", "http://"))):
            raise ProviderConfigError(f"OAUTH_PROVIDERS[{name}].{key} must be an http(s) URL")
    if kind == "google" and not optional["issuer"] and not optional["discovery_url"]:
        optional["issuer"] = GOOGLE_ISSUER
    if kind in ("oidc", "google") and not optional["issuer"] and not optional["discovery_url"]:
        raise ProviderConfigError(f"OAUTH_PROVIDERS[{name}] needs `issuer` or `discovery_url`")
    return ProviderConfig(name=name, kind=kind, client_id=entry["client_id"],
                          client_secret=entry["client_secret"], **optional)
