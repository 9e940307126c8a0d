"""A login identity at an external provider, keyed by (provider, subject), never by email.

Its id is derived from the key, so two concurrent first logins of one subject race on one
aggregate and exactly one creates the user (OWASP ASVS 5.0 V10.5.2: identify users by `sub`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.cause import Cause
from domain.shared.errors import ConflictError
from domain.shared.ids import derived_id


def external_identity_id(provider: str, subject: str) -> UUID:
    return derived_id("identity", provider, subject)


class ExternalIdentity(Aggregate):
    """Points one provider subject at the user it signs in."""

    TOPIC = "bitstride.identity.ExternalIdentity"

    @staticmethod
    def create_id(provider: str, subject: str, **_: Any) -> UUID:
        return external_identity_id(provider, subject)

    @event("Created", topic="bitstride.identity.ExternalIdentity.Created")
    def __init__(self, *, provider: str, subject: str, user_id: UUID, linked_at: float,
                 cause: Cause) -> None:
        self.provider = provider
        self.subject = subject
        self.user_id = user_id
        self.linked_at = linked_at
        self.last_cause = cause


class AccountExistsError(ConflictError):
    """The provider's email belongs to an account already: linking needs that account's login."""

    code = "account_exists"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists; sign in to it first. "
                         "Provider accounts are never linked through a matching email alone.")
