"""JSON paths for findings (`$.messages[2].role`), quoting keys that are not identifiers."""

from __future__ import annotations

import json

ROOT = "$"


def key(path: str, name: str) -> str:
    return f"{path}.{name}" if name.isidentifier() else f"{path}[{json.dumps(name)}]"


def index(path: str, position: int) -> str:
    return f"{path}[{position}]"
