"""argon2id password hashing (OWASP: m=19 MiB, t=2, p=1), behind the PasswordHasher port."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    """Implements application.identity.ports.PasswordHasher with argon2-cffi.

    At most `concurrency` hashes run at once (default: one per core). Each is CPU-bound and
    holds `memory_cost` KiB, so more at once adds no throughput, only memory: the auth
    service's 32 handler threads (`HTTP_THREADS`) would otherwise let 32 concurrent logins
    hold about 600 MiB. The others wait their turn."""

    def __init__(self, *, time_cost: int = 2, memory_cost: int = 19456,
                 parallelism: int = 1, concurrency: int | None = None) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                      parallelism=parallelism, hash_len=32, salt_len=16,
                                      type=Type.ID)
        self._slots = threading.BoundedSemaphore(concurrency or os.cpu_count() or 2)

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            with self._slots:
                return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
