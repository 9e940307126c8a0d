"""The RateLimiter adapters (one contract, in process and on a real Redis) and the mailers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from application.identity.ports import MailMessage, RateLimiter
from infra.mail import OutboxMailer, SmtpMailer, build_mailer
from infra.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from tests.unit.identity.fakes import FakeClock


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield InMemoryRateLimiter()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisRateLimiter(client)
    client.close()


def key() -> str:
    return f"bitstride:test:rl:{uuid.uuid4().hex}"


def test_hits_count_within_a_window_that_starts_at_the_first_hit(limiter: RateLimiter) -> None:
    k = key()
    assert limiter.peek(k).count == 0
    first = limiter.hit(k, 60)
    assert first.count == 1 and 0 < first.resets_in <= 60
    assert limiter.hit(k, 60).count == 2
    assert limiter.peek(k).count == 2 and 0 < limiter.peek(k).resets_in <= 60


def test_concurrent_hits_are_all_counted(limiter: RateLimiter) -> None:
    k = key()
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(25):
            limiter.hit(k, 60)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.peek(k).count == 200


def test_redis_keys_always_carry_a_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    k = key()
    RedisRateLimiter(client).hit(k, 30)
    assert 0 < client.ttl(k) <= 30
    client.delete(k)


def test_in_memory_window_resets_after_it_ends() -> None:
    clock = FakeClock(0.0)
    limiter = InMemoryRateLimiter(clock=clock)
    limiter.hit("k", 10)
    limiter.hit("k", 10)
    clock.advance(10)
    assert limiter.peek("k").count == 0
    assert limiter.hit("k", 10).count == 1


def test_outbox_writes_a_greppable_eml(tmp_path: Path) -> None:
    mailer = build_mailer(None, "Bitstride <no-reply@bitstride.local>", tmp_path / "outbox")
    assert isinstance(mailer, OutboxMailer)
    link = "http://127.0.0.1:8000/v1/auth/verify?token=" + "t" * 43
    mailer.send(MailMessage(to="ada@example.com", subject="Verify", text=f"Open {link}\n",
                            link=link))
    [eml] = (tmp_path / "outbox").glob("*.eml")
    text = eml.read_text()
    assert "To: ada@example.com" in text and link in text


class FakeSmtp:
    instances: list[FakeSmtp] = []

    def __init__(self, host: str, port: int, **_: Any) -> None:
        self.host, self.port, self.calls = host, port, []
        FakeSmtp.instances.append(self)

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def ehlo(self) -> None:
        self.calls.append("ehlo")

    def has_extn(self, name: str) -> bool:
        return name == "starttls"

    def starttls(self, **_: Any) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.calls.append(f"login:{user}:{password}")

    def send_message(self, message: Any) -> None:
        self.calls.append(f"send:{message['To']}")


def test_smtp_url_gives_host_port_credentials_and_starttls(monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    monkeypatch.setattr("smtplib.SMTP", FakeSmtp)
    mailer = build_mailer("smtp://me%40x.io:s3cret@mail.example:587", "a@b.co", Path("unused"))
    assert isinstance(mailer, SmtpMailer)
    mailer.send(MailMessage(to="ada@example.com", subject="s", text="t"))
    smtp = FakeSmtp.instances[-1]
    assert (smtp.host, smtp.port) == ("mail.example", 587)
    assert smtp.calls == ["ehlo", "starttls", "ehlo", "login:me@x.io:s3cret",
                          "send:ada@example.com"]


def test_smtp_url_must_be_smtp_or_smtps() -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpMailer("http://mail.example", "a@b.co")
