"""Wiring of the verification, MFA and sign-in use cases over the in-memory store."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pyotp

from application.identity.mfa import SecondFactors
from application.identity.ports import MailMessage
from application.identity.service import IdentityService
from application.identity.signin import SignIn
from application.identity.throttle import Throttle
from application.identity.verification import EmailVerifications
from infra.auth.secretbox import AesGcmSecretBox
from infra.ratelimit import InMemoryRateLimiter
from tests.unit.identity.fakes import FakeClock, make_service

PASSWORD = "correct horse battery"


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    def send(self, message: MailMessage) -> None:
        self.sent.append(message)

    def last_token(self) -> str:
        link = self.sent[-1].link
        assert link is not None
        return link.split("token=", 1)[1]


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    require_verified_email: bool = False

    def __post_init__(self) -> None:
        self.identity: IdentityService = make_service(clock=self.clock)
        self.limiter = InMemoryRateLimiter(clock=self.clock)
        self.throttle = Throttle(self.limiter)
        self.factors = SecondFactors(self.identity, AesGcmSecretBox(os.urandom(32)),
                                     self.throttle)
        self.sign_in = SignIn(self.identity, self.factors, self.throttle,
                              require_verified_email=self.require_verified_email)
        self.verifications = EmailVerifications(self.identity, self.mailer, self.throttle,
                                                "http://localhost:8000")

    @property
    def now(self) -> float:
        return self.clock.now

    def register(self, email: str = "ada@example.com") -> object:
        user_id, _ = self.identity.register(email, "Ada", PASSWORD)
        return user_id

    def enable_mfa(self, user_id: object) -> tuple[pyotp.TOTP, list[str]]:
        """Enrol and activate; the clock moves past the activation step."""
        enrollment = self.factors.enroll(user_id, self.now)  # type: ignore[arg-type]
        totp = pyotp.TOTP(enrollment.secret)
        codes = self.factors.activate(user_id, totp.at(self.now), self.now)  # type: ignore[arg-type]
        self.clock.advance(30)
        return totp, codes
