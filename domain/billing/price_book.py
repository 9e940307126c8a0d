"""PriceBook: the versions of the prices, one aggregate whose `Published` events are the record.

There is one price book (a fixed, derived id). Each `Published` event holds the version number
(1, 2, …), the unix time it took effect and every entry; publishing entries equal to the
current ones records nothing, so syncing an unchanged file at every start is free. An invoice
names the version it was priced with, so any version's prices can be read back from the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.billing.pricing import PriceEntry, checked_entries, price_for
from domain.shared.cause import Cause
from domain.shared.ids import derived_id

PRICE_BOOK_ID = derived_id("price-book")


class PriceBook(Aggregate):
    TOPIC = "bitstride.billing.PriceBook"

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return PRICE_BOOK_ID

    @event("Created", topic="bitstride.billing.PriceBook.Created")
    def __init__(self, *, cause: Cause) -> None:
        self.price_book_version = 0  # the published version; 0 until the first one
        self.effective_at: float | None = None
        self.entries: tuple[PriceEntry, ...] = ()
        self.last_cause = cause

    def publish(self, entries: Iterable[PriceEntry], *, at: float, cause: Cause) -> bool:
        """Publish the next version, unless `entries` equal the current ones (False)."""
        checked = checked_entries(entries)
        if checked == self.entries:
            return False
        self._published(price_book_version=self.price_book_version + 1, effective_at=at,
                        entries=[entry.as_dict() for entry in checked], cause=cause)
        return True

    @event("Published", topic="bitstride.billing.PriceBook.Published")
    def _published(self, *, price_book_version: int, effective_at: float,
                   entries: list[dict[str, Any]], cause: Cause) -> None:
        self.price_book_version, self.effective_at = price_book_version, effective_at
        self.entries = tuple(PriceEntry(**entry) for entry in entries)
        self.last_cause = cause

    def price(self, meter: str, model: str) -> PriceEntry:
        return price_for(self.entries, meter, model)
