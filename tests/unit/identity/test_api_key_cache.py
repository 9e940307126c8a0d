"""The control plane's key cache: bounded TTL, hashed keys, drops that beat in-flight fetches."""

from __future__ import annotations

from uuid import uuid4

from infra.auth.api_key_cache import MAX_TTL_SECONDS, ApiKeyCache, ApiKeyGrant, key_digest
from infra.auth.api_key_changes import InProcessApiKeyChanges


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def grant(key_id: str = "key_a") -> ApiKeyGrant:
    return ApiKeyGrant(key_id=key_id, org_id=uuid4(), scopes=("all",), project_id=None,
                       expires_at=None)


def test_entries_live_at_most_the_ttl_capped_at_30_seconds() -> None:
    clock = Clock()
    cache = ApiKeyCache(3600, clock=clock)
    assert cache.ttl == MAX_TTL_SECONDS
    cache.put("d", grant(), cache.generation())
    clock.now = 29.9
    assert cache.get("d")[0]
    clock.now = 30.0
    assert cache.get("d") == (False, None)


def test_inactive_answers_are_cached_too() -> None:
    cache = ApiKeyCache(30, clock=Clock())
    cache.put("d", None, cache.generation())
    assert cache.get("d") == (True, None)


def test_drop_removes_the_key_and_discards_fetches_in_flight() -> None:
    cache = ApiKeyCache(30, clock=Clock())
    cache.put("a", grant("key_a"), cache.generation())
    cache.put("b", grant("key_b"), cache.generation())
    started = cache.generation()
    cache.drop_key("key_a")
    assert cache.get("a") == (False, None) and cache.get("b")[0]
    cache.put("a", grant("key_a"), started)  # fetched before the revocation: not stored
    assert cache.get("a") == (False, None)


def test_size_is_bounded() -> None:
    cache = ApiKeyCache(30, clock=Clock(), max_entries=3)
    for i in range(5):
        cache.put(str(i), None, cache.generation())
    assert len(cache) == 3 and not cache.get("0")[0] and cache.get("4")[0]


def test_cache_keys_are_hashes_not_keys() -> None:
    digest = key_digest("bsk_secret")
    assert "secret" not in digest and len(digest) == 64


def test_in_process_push_reaches_subscribers() -> None:
    cache = ApiKeyCache(30, clock=Clock())
    changes = InProcessApiKeyChanges()
    changes.subscribe(cache.drop_key, cache.clear)
    cache.put("a", grant("key_a"), cache.generation())
    changes.publish("key_a")
    assert not cache.get("a")[0]
