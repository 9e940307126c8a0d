"""Billing periods: UTC calendar months, named 'YYYY-MM'.

A period is [start, end) in unix seconds. The domain never reads a clock: whoever asks which
period is open, or whether one has ended, passes the time in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.shared.errors import ValidationFailedError

_NAME = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, name: str, *, param: str = "period") -> Period:
        match = _NAME.fullmatch(name) if isinstance(name, str) else None
        if match is None or int(match[1]) < 1970:
            raise ValidationFailedError(f"'{param}' is a month 'YYYY-MM' (UTC), not {name!r}.",
                                        param=param)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, unix_seconds: float) -> Period:
        """The period holding this instant."""
        moment = datetime.fromtimestamp(unix_seconds, UTC)
        return cls(moment.year, moment.month)

    @property
    def name(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> int:
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp())

    @property
    def end(self) -> int:
        return self.next().start

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def has_ended(self, now: float) -> bool:
        return self.end <= now

    def require_ended(self, now: float) -> None:
        """Only an ended period can be closed."""
        if not self.has_ended(now):
            raise ValidationFailedError(f"Period {self} has not ended yet; it can be closed "
                                        f"from {self.next()}-01T00:00:00Z.", param="period")

    def __str__(self) -> str:
        return self.name
