"""GitHub login: OAuth 2 (no ID token) plus its user API; the subject is the numeric user id.

Implements application.identity.provider_login.IdentityProvider. GitHub issues no nonce-bound
ID token, so the state (bound to the browser) and PKCE carry the flow's integrity; the email
is the primary one GitHub reports as verified.
"""

from __future__ import annotations

from typing import Any

from application.identity.provider_login import (
    ExternalProfile,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from infra.auth.oidc import HttpFactory, default_http, fetch_json, with_query
from infra.auth.provider_config import ProviderConfig

AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
TOKEN_URL = "https://github.com/login/oauth/access_token"
API_URL = "https://api.github.com"
SCOPE = "read:user user:email"


class GitHubProvider:
    def __init__(self, config: ProviderConfig, *, http: HttpFactory = default_http) -> None:
        self.name = config.name
        self._config = config
        self._http = http
        self._authorize = config.authorization_endpoint or AUTHORIZE_URL
        self._token = config.token_endpoint or TOKEN_URL
        self._api = (config.api_url or API_URL).rstrip("/")

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                                code_challenge: str) -> str:
        return with_query(self._authorize, {
            "response_type": "code", "client_id": self._config.client_id,
            "redirect_uri": redirect_uri, "scope": SCOPE, "state": state,
            "code_challenge": code_challenge, "code_challenge_method": "S256"})

    async def profile(self, *, code: str, code_verifier: str, redirect_uri: str,
                      nonce: str) -> ExternalProfile:
        body = await fetch_json(self._http, "POST", self._token, headers={
            "Accept": "application/json"}, data={
            "client_id": self._config.client_id, "client_secret": self._config.client_secret,
            "code": code, "redirect_uri": redirect_uri, "code_verifier": code_verifier})
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ProviderRejectedError  # GitHub answers 200 {"error": "bad_verification_code"}
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
        user = await fetch_json(self._http, "GET", f"{self._api}/user", headers=headers)
        emails = await fetch_json(self._http, "GET", f"{self._api}/user/emails",
                                  headers=headers)
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise ProviderUnavailableError("GitHub /user: no numeric id")
        email = _primary_verified(emails)
        return ExternalProfile(provider=self.name, subject=str(user["id"]), email=email,
                               email_verified=email is not None,
                               name=str(user.get("name") or user.get("login") or ""))


def _primary_verified(emails: Any) -> str | None:
    for entry in emails if isinstance(emails, list) else []:
        if isinstance(entry, dict) and entry.get("primary") is True \
                and entry.get("verified") is True and isinstance(entry.get("email"), str):
            return str(entry["email"])
    return None
