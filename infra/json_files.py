"""Reading a JSON configuration file named by a setting, failing with one actionable line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.settings import SettingsError


def read_json_file(source: Path, setting: str, error: type[SettingsError]) -> Any:
    """The parsed document; `error` names the setting and the file when it cannot be."""
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except OSError as failure:
        raise error(f"{setting} {source} cannot be read: {failure}") from None
    except ValueError as failure:
        raise error(f"{setting} {source} is not valid JSON: {failure}") from None
