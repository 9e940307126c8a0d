"""Which factors opened a session (RFC 8176 `amr`), kept for the tokens its refreshes issue.

Saved with the session only when more than a password was used; absence means `["pwd"]`.
A separate aggregate so the stored Session payload does not change.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.shared.cause import Cause
from domain.shared.ids import derived_id

PASSWORD_ONLY: tuple[str, ...] = ("pwd",)


def session_factors_id(session_id: UUID) -> UUID:
    return derived_id("session-factors", session_id.hex)


def assurance_level(amr: tuple[str, ...]) -> int:
    """NIST SP 800-63B AAL: 2 once a second, independent factor was proven."""
    return 2 if len(set(amr)) >= 2 else 1


class SessionFactors(Aggregate):
    TOPIC = "bitstride.identity.SessionFactors"

    @staticmethod
    def create_id(session_id: UUID, **_: Any) -> UUID:
        return session_factors_id(session_id)

    @event("Created", topic="bitstride.identity.SessionFactors.Created")
    def __init__(self, *, session_id: UUID, amr: list[str], cause: Cause) -> None:
        self.session_id = session_id
        self.amr = list(amr)
        self.last_cause = cause
