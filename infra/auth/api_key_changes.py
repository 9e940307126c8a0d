"""Push of API-key changes from the auth service to every control plane's key cache.

In one process the notifier calls its subscribers directly. With REDIS_URL it publishes the
key id on a channel; each control plane runs one subscriber thread that drops the key from its
cache on arrival. Pub/sub is fire-and-forget, so whenever the subscription (re)connects the
whole cache is dropped: a message missed while disconnected cannot leave a revoked key alive.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import redis
import structlog

log = structlog.get_logger("bitstride.api_keys")

CHANNEL = "bitstride:api-key-changed"
RECONNECT_SECONDS = 1.0

Subscriber = Callable[[str], None]
Reset = Callable[[], None]


class InProcessApiKeyChanges:
    """Embedded: the auth app and the control plane share this object."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def publish(self, key_id: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber(key_id)

    def subscribe(self, on_change: Subscriber, on_reset: Reset) -> None:
        self._subscribers.append(on_change)

    def close(self) -> None:
        self._subscribers.clear()


class RedisApiKeyChanges:
    """Shared through a Redis channel; `subscribe` starts the listening thread."""

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._client = redis.Redis.from_url(url, socket_timeout=5)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once subscribed (tests wait on it)

    def publish(self, key_id: str) -> None:
        try:
            self._client.publish(self._channel, key_id)
        except redis.RedisError as error:  # the cache TTL still bounds staleness
            log.error("api_key_change_not_published", key_id=key_id,
                      error_class=type(error).__name__)

    def subscribe(self, on_change: Subscriber, on_reset: Reset) -> None:
        self._thread = threading.Thread(target=self._listen, args=(on_change, on_reset),
                                        name="api-key-changes", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._client.close()

    def _listen(self, on_change: Subscriber, on_reset: Reset) -> None:
        while not self._stop.is_set():
            client = redis.Redis.from_url(self._url, socket_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                pubsub.get_message(timeout=1.0)  # the subscribe confirmation
                on_reset()
                self.ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        on_change(data.decode() if isinstance(data, bytes) else str(data))
            except Exception as error:  # a dead listener would silently stop the push
                self.ready.clear()
                on_reset()
                log.warning("api_key_changes_disconnected", error_class=type(error).__name__)
                self._stop.wait(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
                    client.close()


ApiKeyChanges = InProcessApiKeyChanges | RedisApiKeyChanges


def build_api_key_changes(redis_url: str | None) -> ApiKeyChanges:
    return RedisApiKeyChanges(redis_url) if redis_url else InProcessApiKeyChanges()
