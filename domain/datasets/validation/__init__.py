"""Deep, streaming validation of JSONL datasets (pure: no I/O). Codes: see `codes`."""

from domain.datasets.validation.formats import CHAT, MIXED, PREFERENCE, PROMPT, UNKNOWN
from domain.datasets.validation.plain import PlainChatDecoder
from domain.datasets.validation.report import Issue, TokenStats, ValidationReport
from domain.datasets.validation.validator import MIN_EXAMPLES, validate_lines

__all__ = ["CHAT", "MIN_EXAMPLES", "MIXED", "PREFERENCE", "PROMPT", "UNKNOWN", "Issue",
           "PlainChatDecoder", "TokenStats", "ValidationReport", "validate_lines"]
