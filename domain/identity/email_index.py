"""Makes emails unique: one aggregate per normalized email, with an id derived from it.

Saved in the same save() as the User, so of two concurrent registrations of one email exactly
one wins the version race and the other fails as a whole.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.ids import derived_id


def email_index_id(normalized_email: str) -> UUID:
    return derived_id("email", normalized_email)


class EmailIndex(Aggregate):
    """Points a normalized email at the user that owns it."""

    TOPIC = "bitstride.identity.EmailIndex"

    @staticmethod
    def create_id(email: str, **_: Any) -> UUID:
        return email_index_id(email)

    @event("Created", topic="bitstride.identity.EmailIndex.Created")
    def __init__(self, *, email: str, user_id: UUID) -> None:
        self.email = email
        self.user_id = user_id
