"""What the identity use cases need from infrastructure: password hashing and token signing."""

from __future__ import annotations

from collections.abc import Mapping
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
