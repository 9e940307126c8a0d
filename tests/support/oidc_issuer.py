"""A tiny OIDC provider (and GitHub look-alike) for offline tests, served by uvicorn in a thread.

Discovery, JWKS, authorize (auto-approves the configured user, redirects with code + state),
token (checks client authentication, redirect_uri and the PKCE S256 verifier; codes work
once) and GitHub's token, /user and /user/emails. Tests can tamper with what it signs:
`claim_overrides` (a None value deletes the claim) and `signing` ("RS256", "none",
"HS256-public-key", "unknown-kid", "wrong-key").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, Request, Response, get, post

CLIENT_ID = "bitstride-test-client"
CLIENT_SECRET = "test-client-secret-" + "s" * 20


@dataclass
class IssuerUser:
    sub: str = "alice-subject"
    email: str = "alice@example.com"
    email_verified: bool = True
    name: str = "Alice"
    github_id: int = 4242


@dataclass
class IssuedCode:
    user: IssuerUser
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    used: bool = False


@dataclass
class IssuerState:
    user: IssuerUser = field(default_factory=IssuerUser)
    claim_overrides: dict[str, Any] = field(default_factory=dict)
    signing: str = "RS256"
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    access_tokens: dict[str, IssuerUser] = field(default_factory=dict)
    token_requests: int = 0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcIssuer:
    """Start with `start()`, reset between tests with `reset()`, stop with `stop()`."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.state = IssuerState()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OidcIssuer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test OIDC issuer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)

    def reset(self) -> None:
        self.state = IssuerState()

    # -- what tests inspect -----------------------------------------------------------------

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
            self._key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def provider_config(self, name: str = "mock", **extra: Any) -> dict[str, Any]:
        return {"name": name, "kind": "oidc", "issuer": self.url, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, **extra}

    def github_config(self, name: str = "github") -> dict[str, Any]:
        return {"name": name, "kind": "github", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorization_endpoint": f"{self.url}/login/oauth/authorize",
                "token_endpoint": f"{self.url}/login/oauth/access_token", "api_url": self.url}

    # -- signing ----------------------------------------------------------------------------

    def id_token(self, code: IssuedCode) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url, "aud": code.client_id, "sub": code.user.sub, "iat": now,
            "exp": now + 300, "nonce": code.nonce, "email": code.user.email,
            "email_verified": code.user.email_verified, "name": code.user.name}
        for key, value in self.state.claim_overrides.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return self.sign(claims, self.state.signing)

    def sign(self, claims: dict[str, Any], mode: str) -> str:
        headers = {"kid": self.kid}
        if mode == "RS256":
            return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
        if mode == "none":
            return jwt.encode(claims, None, algorithm="none", headers=headers)
        if mode == "unknown-kid":
            return jwt.encode(claims, self._other_key, algorithm="RS256",
                              headers={"kid": "not-published"})
        if mode == "wrong-key":
            return jwt.encode(claims, self._other_key, algorithm="RS256", headers=headers)
        if mode == "HS256-public-key":  # pyjwt refuses to do this, so by hand
            pem = self._key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
            body = _b64url(json.dumps(claims).encode())
            mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
            return f"{head}.{body}.{_b64url(mac)}"
        raise ValueError(mode)

    # -- the ASGI app -----------------------------------------------------------------------

    def app(self) -> Litestar:
        issuer = self

        @get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {"issuer": issuer.url, "authorization_endpoint": f"{issuer.url}/authorize",
                    "token_endpoint": f"{issuer.url}/token", "jwks_uri": f"{issuer.url}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                              "client_secret_post"]}

        @get("/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [issuer.public_jwk()]}

        @get(["/authorize", "/login/oauth/authorize"])
        async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            query = request.query_params
            github = request.url.path.startswith("/login/")
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code" \
                    or query.get("code_challenge_method") != "S256" \
                    or not query.get("state") or (not github and not query.get("nonce")):
                return Response({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(24)
            issuer.state.codes[code] = IssuedCode(
                user=issuer.state.user, client_id=CLIENT_ID,
                redirect_uri=query["redirect_uri"], challenge=query["code_challenge"],
                nonce=query.get("nonce"))
            params = urlencode({"code": code, "state": query["state"]})
            return Response(b"", status_code=302,
                            headers={"Location": f"{query['redirect_uri']}?{params}"})

        @post(["/token", "/login/oauth/access_token"], status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            issuer.state.token_requests += 1
            form = dict(await request.form())
            github = request.url.path.startswith("/login/")
            failure = issuer._check_token_request(request, form)
            if failure is not None:
                # GitHub answers failures with a 200 and an `error` member.
                return Response({"error": failure}, status_code=200 if github else 400)
            issued = issuer.state.codes[form["code"]]
            issued.used = True
            access = secrets.token_urlsafe(24)
            issuer.state.access_tokens[access] = issued.user
            body: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                                    "expires_in": 300}
            if not github:
                body["id_token"] = issuer.id_token(issued)
            return Response(body, status_code=200)

        @get("/user")
        async def user(request: Request[Any, Any, Any]) -> Response[Any]:
            found = issuer._bearer_user(request)
            if found is None:
                return Response({"message": "Bad credentials"}, status_code=401)
            return Response({"id": found.github_id, "login": found.sub, "name": found.name})

        @get("/user/emails")
        async def emails(request: Request[Any, Any, Any]) -> Response[Any]:
            found = issuer._bearer_user(request)
            if found is None:
                return Response({"message": "Bad credentials"}, status_code=401)
            return Response([{"email": "other@example.com", "primary": False, "verified": True},
                             {"email": found.email, "primary": True,
                              "verified": found.email_verified}])

        return Litestar([discovery, jwks, authorize, token, user, emails], debug=True)

    def _check_token_request(self, request: Request[Any, Any, Any],
                             form: dict[str, Any]) -> str | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return "invalid_client"
        issued = self.state.codes.get(str(form.get("code")))
        if issued is None or issued.used or issued.redirect_uri != form.get("redirect_uri"):
            return "invalid_grant"
        verifier = str(form.get("code_verifier") or "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != issued.challenge:
            return "invalid_grant"
        return None

    def _bearer_user(self, request: Request[Any, Any, Any]) -> IssuerUser | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
