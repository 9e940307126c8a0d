"""The validation report, and the bounded collector that builds it while streaming."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from domain.datasets.validation.codes import WARNINGS

MAX_ISSUES = 1000


class Finding(NamedTuple):
    """What a rule reports about one row; the validator adds the line number."""

    code: str
    path: str
    message: str


@dataclass(frozen=True)
class Issue:
    line: int | None  # 1-based; None for findings about the whole file
    path: str
    code: str
    message: str


@dataclass(frozen=True)
class TokenStats:
    total: int = 0
    p50: int = 0
    p95: int = 0
    max: int = 0
    over_context: int = 0
    estimated: bool = True


@dataclass(frozen=True)
class ValidationReport:
    detected_format: str
    examples: int
    errors: tuple[Issue, ...]
    error_counts: dict[str, int]
    warnings: tuple[Issue, ...]
    warning_counts: dict[str, int]
    token_stats: TokenStats
    truncated: bool  # True when errors or warnings were cut at MAX_ISSUES; counts stay complete

    @property
    def valid(self) -> bool:
        return not self.error_counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, e.g. for the validation-completed event."""
        return {**asdict(self), "valid": self.valid,
                "errors": [asdict(e) for e in self.errors],
                "warnings": [asdict(w) for w in self.warnings]}


@dataclass
class IssueCollector:
    """Keeps every count but only the first `limit` errors and warnings: constant memory."""

    limit: int = MAX_ISSUES
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    error_counts: Counter[str] = field(default_factory=Counter)
    warning_counts: Counter[str] = field(default_factory=Counter)
    truncated: bool = False

    def add(self, line: int | None, finding: Finding) -> None:
        is_warning = finding.code in WARNINGS
        kept = self.warnings if is_warning else self.errors
        (self.warning_counts if is_warning else self.error_counts)[finding.code] += 1
        if len(kept) < self.limit:
            kept.append(Issue(line, finding.path, finding.code, finding.message))
        else:
            self.truncated = True

    def add_all(self, line: int | None, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(line, finding)
