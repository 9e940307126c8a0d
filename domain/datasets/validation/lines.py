"""From raw bytes to a JSON value: encoding, BOM, blank, truncated and malformed lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from domain.datasets.validation import codes
from domain.datasets.validation.paths import ROOT
from domain.datasets.validation.report import Finding

BOM = b"\xef\xbb\xbf"


@dataclass
class ParsedLine:
    """A decoded line: `value` is set only when the line is valid JSON."""

    findings: list[Finding] = field(default_factory=list)
    value: Any = None
    parsed: bool = False


def _strip_newline(raw: bytes) -> tuple[bytes, bool]:
    if raw.endswith(b"\r\n"):
        return raw[:-2], True
    if raw.endswith(b"\n"):
        return raw[:-1], True
    return raw, False


def _decode(body: bytes, parsed: ParsedLine) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        parsed.findings.append(Finding(
            codes.INVALID_UTF8, ROOT,
            f"Byte 0x{body[error.start]:02x} at column {error.start + 1} is not valid UTF-8."))
        return None


def _bad_json(text: str, error: ValueError | RecursionError, ended: bool) -> Finding:
    """Say `truncated_line` when the JSON ran out, `invalid_json` otherwise."""
    position = getattr(error, "pos", None)
    runs_out = position is not None and position >= len(text.rstrip())
    if runs_out or not ended:
        return Finding(codes.TRUNCATED_LINE, ROOT,
                       "The line ends before its JSON value does (was the file cut short?).")
    if isinstance(error, json.JSONDecodeError):
        return Finding(codes.INVALID_JSON, ROOT,
                       f"Invalid JSON: {error.msg} at column {error.colno}.")
    return Finding(codes.INVALID_JSON, ROOT, f"Invalid JSON: {type(error).__name__}.")


def parse_line(raw: bytes, *, first: bool) -> ParsedLine:
    """Decode one line; a line without a final newline can only be the last of the file."""
    parsed = ParsedLine()
    body, ended = _strip_newline(raw)
    if first and body.startswith(BOM):
        body = body[len(BOM):]
        parsed.findings.append(Finding(codes.BOM, ROOT,
                                       "The file starts with a UTF-8 byte-order mark; ignored."))
    text = _decode(body, parsed)
    if text is None:
        return parsed
    if not text.strip():
        parsed.findings.append(Finding(codes.BLANK_LINE, ROOT,
                                       "Blank line: every line must hold one JSON object."))
        return parsed
    try:
        parsed.value = json.loads(text)
    except (ValueError, RecursionError) as error:
        parsed.findings.append(_bad_json(text, error, ended))
        return parsed
    parsed.parsed = True
    return parsed
