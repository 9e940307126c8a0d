"""Argon2PasswordHasher: real argon2id hashes, and no more hashing at once than it allows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.auth.passwords import Argon2PasswordHasher


def test_a_hash_is_argon2id_with_the_owasp_parameters_and_verifies() -> None:
    hasher = Argon2PasswordHasher()
    hashed = hasher.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(hashed, "correct horse battery staple")
    assert not hasher.verify(hashed, "correct horse battery stapler")
    assert not hasher.verify("not a hash", "correct horse battery staple")
    assert not hasher.needs_rehash(hashed)


@pytest.mark.parametrize("operation", ["hash", "verify"])
def test_no_more_than_the_allowed_hashes_run_at_once(operation: str) -> None:
    """Eight threads ask at once; with two slots, at most two are inside argon2 together."""
    hasher = Argon2PasswordHasher(concurrency=2)
    stored = hasher.hash("secret")
    inside, most, lock = [0], [0], threading.Lock()
    real = hasher._hasher

    class Counting:
        """argon2's hasher, counting the calls inside it at once."""

        def __getattr__(self, name: str) -> object:
            method = getattr(real, name)

            def counted(*args: object) -> object:
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.05)  # long enough for every thread to be asking meanwhile
                try:
                    return method(*args)
                finally:
                    with lock:
                        inside[0] -= 1
            return counted

    hasher._hasher = Counting()  # type: ignore[assignment]
    call = (lambda: hasher.hash("secret")) if operation == "hash" else (
        lambda: hasher.verify(stored, "secret"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: call(), range(8)))
    assert most[0] == 2
    assert all(results)
