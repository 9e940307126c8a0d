"""The three dataset formats, and which one a row is in.

A row with any preference key is a preference pair; any other row is chat for fine-tuning and
prompt-only for RL: the two share the `messages` shape and differ in what they must contain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

CHAT = "chat"
PREFERENCE = "preference"
PROMPT = "prompt"
MIXED = "mixed"
UNKNOWN = "unknown"
FORMATS = (CHAT, PREFERENCE, PROMPT)

Purpose = Literal["fine_tuning", "rl"]
PURPOSES = ("fine_tuning", "rl")
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})


def row_format(row: Mapping[str, Any], purpose: Purpose) -> str:
    if not PREFERENCE_KEYS.isdisjoint(row):
        return PREFERENCE
    return PROMPT if purpose == "rl" else CHAT


def file_format(seen: set[str]) -> str:
    if not seen:
        return UNKNOWN
    return next(iter(seen)) if len(seen) == 1 else MIXED
