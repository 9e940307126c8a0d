"""The streaming validator: one pass over the lines, constant memory whatever the file size.

It keeps counters, the set of formats seen, at most MAX_ISSUES errors and warnings (with full
counts per code) and a fixed-size token histogram; never the file. Memory is bounded by the
longest single line, which the caller bounds (the upload's size limit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.datasets.validation import codes
from domain.datasets.validation.formats import (
    CHAT,
    FORMATS,
    PURPOSES,
    Purpose,
    file_format,
    row_format,
)
from domain.datasets.validation.lines import parse_line
from domain.datasets.validation.paths import ROOT
from domain.datasets.validation.plain import PlainChatDecoder, plain_chat_texts
from domain.datasets.validation.report import (
    MAX_ISSUES,
    Finding,
    IssueCollector,
    ValidationReport,
)
from domain.datasets.validation.rows import RULES, conversation_tokens, example_tokens
from domain.datasets.validation.tokens import TokenTally

MIN_EXAMPLES = 10


@dataclass
class _Run:
    declared_format: str | None
    purpose: Purpose
    count_tokens: Callable[[str], int]
    tally: TokenTally
    issues: IssueCollector
    plain_chat: PlainChatDecoder | None  # None: every row takes the detailed path
    examples: int = 0
    first_format: str | None = None
    formats: set[str] = field(default_factory=set)

    def feed(self, line: int, raw: bytes) -> None:
        if not raw or (line != 1 and self.took_plain(line, raw)):
            return
        parsed = parse_line(raw, first=line == 1)
        self.issues.add_all(line, parsed.findings)
        if not parsed.parsed:
            return
        if not isinstance(parsed.value, dict):
            self.issues.add(line, Finding(codes.NOT_AN_OBJECT, ROOT,
                                          "Each line must be a JSON object."))
            return
        self.examples += 1
        self.check_row(line, parsed.value)

    def took_plain(self, line: int, raw: bytes) -> bool:
        """Count a plain chat row the fast path finds nothing wrong with (never line 1: BOM)."""
        messages = self.plain_chat(raw) if self.plain_chat is not None else None
        texts = plain_chat_texts(messages) if messages is not None else None
        if texts is None:
            return False
        self.examples += 1
        self.issues.add_all(line, self.format_findings(CHAT))
        self.add_length(line, conversation_tokens(texts, self.count_tokens))
        return True

    def check_row(self, line: int, row: Mapping[str, Any]) -> None:
        fmt = row_format(row, self.purpose)
        self.issues.add_all(line, [*self.format_findings(fmt), *RULES[fmt](row)])
        self.add_length(line, example_tokens(row, fmt, self.count_tokens))

    def add_length(self, line: int, tokens: int) -> None:
        self.tally.add(tokens)
        if self.tally.is_too_long(tokens):
            self.issues.add(line, Finding(
                codes.TOO_LONG_EXAMPLE, ROOT,
                f"{tokens} tokens exceed the context length of {self.tally.context_length}."))

    def format_findings(self, fmt: str) -> list[Finding]:
        self.formats.add(fmt)
        self.first_format = self.first_format or fmt
        if self.declared_format is not None:
            if fmt == self.declared_format:
                return []
            declared = self.declared_format
            return [Finding(codes.FORMAT_MISMATCH, ROOT,
                            f"This row is {fmt} but the dataset is declared {declared}.")]
        if fmt == self.first_format:
            return []
        return [Finding(codes.MIXED_FORMATS, ROOT,
                        f"This row is {fmt} but the file started with {self.first_format}.")]

    def finish(self, min_examples: int) -> ValidationReport:
        if self.examples < min_examples:
            self.issues.add(None, Finding(
                codes.TOO_FEW_EXAMPLES, ROOT,
                f"{self.examples} examples; at least {min_examples} are needed."))
        return ValidationReport(
            detected_format=file_format(self.formats), examples=self.examples,
            errors=tuple(self.issues.errors), error_counts=dict(self.issues.error_counts),
            warnings=tuple(self.issues.warnings), warning_counts=dict(self.issues.warning_counts),
            token_stats=self.tally.stats(), truncated=self.issues.truncated)


def validate_lines(lines: Iterable[bytes], *, declared_format: str | None = None,
                   purpose: Purpose = "fine_tuning", context_length: int | None = None,
                   count_tokens: Callable[[str], int], token_estimate: bool,
                   min_examples: int = MIN_EXAMPLES, max_issues: int = MAX_ISSUES,
                   plain_chat: PlainChatDecoder | None = None) -> ValidationReport:
    """Validate a JSONL dataset given as its lines (each with its newline, as a binary file
    iterates them). `count_tokens` is the model's tokenizer, or an estimate if
    `token_estimate`; `context_length` None skips the length check. `plain_chat` is the fast
    path's decoder (see `plain`): the report is the same with or without it, only sooner."""
    if declared_format is not None and declared_format not in FORMATS:
        raise ValueError(f"unknown dataset format {declared_format!r}")
    if purpose not in PURPOSES:
        raise ValueError(f"unknown dataset purpose {purpose!r}")
    run = _Run(declared_format=declared_format, purpose=purpose, count_tokens=count_tokens,
               tally=TokenTally(context_length=context_length, estimated=token_estimate),
               issues=IssueCollector(limit=max_issues),
               plain_chat=plain_chat if purpose == "fine_tuning" else None)
    for number, raw in enumerate(lines, start=1):
        run.feed(number, raw)
    return run.finish(min_examples)
