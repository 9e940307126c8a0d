"""What the identity use cases need from infrastructure: password hashing and token signing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id); hashes are safe to store, passwords never."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokenSigner(Protocol):
    """Signs access-token claims and publishes the public keys that verify them."""

    @property
    def kid(self) -> str: ...

    def sign(self, claims: Mapping[str, Any]) -> str: ...

    def jwks(self) -> dict[str, Any]: ...


class PendingFlowStore(Protocol):
    """Short-lived, single-use records of started provider logins (Redis, or in process).

    `take` returns a record and deletes it in one atomic step, so a flow finishes at most once.
    """

    def put(self, key: str, value: str, ttl_seconds: int) -> None: ...

    def take(self, key: str) -> str | None: ...


class ApiKeyHasher(Protocol):
    """Keyed hash (HMAC-SHA256 with a server secret) of an API key; only the digest is stored."""

    def digest(self, key: str) -> str: ...


class ApiKeyChangeNotifier(Protocol):
    """Tells every control plane that a key changed or was revoked, so caches drop it now."""

    def publish(self, key_id: str) -> None: ...


# -- email verification, MFA and throttling (issue 3) ---------------------------------------


@dataclass(frozen=True)
class MailMessage:
    """A plain-text message; `link` is its one action link (only an outbox may log it)."""

    to: str
    subject: str
    text: str
    link: str | None = None


class Mailer(Protocol):
    """Sends mail (SMTP) or files it where a developer can read it (the outbox)."""

    def send(self, message: MailMessage) -> None: ...


@dataclass(frozen=True)
class Window:
    """A fixed-window counter: hits so far, and seconds until the window resets."""

    count: int
    resets_in: int


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows that start at a key's first hit."""

    def hit(self, key: str, window_seconds: int) -> Window: ...

    def peek(self, key: str) -> Window: ...


class SecretBox(Protocol):
    """Authenticated encryption of small secrets (TOTP seeds) before they enter an event.

    `context` is bound to the ciphertext (AEAD associated data), so a sealed value cannot be
    replayed under another owner.
    """

    def seal(self, plaintext: bytes, context: bytes) -> str: ...

    def open(self, sealed: str, context: bytes) -> bytes: ...
