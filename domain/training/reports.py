"""Checks on what executors report: metrics, errors, outputs. Bounded, JSON-safe values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from domain.shared.errors import ValidationFailedError
from domain.shared.text import checked_name, checked_text

MAX_METRICS = 64
MAX_METRIC_NAME_LENGTH = 64
MAX_ERROR_MESSAGE_LENGTH = 2000
MAX_RESULT_FILES = 32
MAX_KEY_LENGTH = 512


def checked_metrics(metrics: Mapping[str, object], *, param: str = "metrics") -> dict[str, float]:
    """Finite numbers by name: NaN and infinities have no JSON form and mean a broken run."""
    if len(metrics) > MAX_METRICS:
        raise ValidationFailedError(f"At most {MAX_METRICS} metrics per report.", param=param)
    result: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_METRIC_NAME_LENGTH:
            raise ValidationFailedError("Metric names must be 1 to 64 characters.", param=param)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise ValidationFailedError(f"Metric '{name}' must be a finite number.",
                                        param=f"{param}.{name}")
        result[name] = value
    return result


def checked_step(step: int, *, param: str = "step") -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValidationFailedError(f"'{param}' must be a non-negative integer.", param=param)
    return step


def checked_error(error: Mapping[str, Any]) -> dict[str, str | None]:
    """OpenAI's job error: `code` (snake_case), `message`, and `param` (or None)."""
    code, message, param = error.get("code"), error.get("message"), error.get("param")
    if not isinstance(code, str) or not code or not code.replace("_", "").isalnum():
        raise ValidationFailedError("'error.code' must be a snake_case code.",
                                    param="error.code")
    if not isinstance(message, str) or not message:
        raise ValidationFailedError("'error.message' must be a non-empty string.",
                                    param="error.message")
    if param is not None and not isinstance(param, str):
        raise ValidationFailedError("'error.param' must be a string or null.",
                                    param="error.param")
    return {"code": code[:64],
            "message": checked_text(message, param="error.message",
                                    max_length=MAX_ERROR_MESSAGE_LENGTH),
            "param": param}


def checked_files(files: Sequence[str], *, param: str = "result_files") -> list[str]:
    if isinstance(files, str) or len(files) > MAX_RESULT_FILES:
        raise ValidationFailedError(f"'{param}' must list at most {MAX_RESULT_FILES} keys.",
                                    param=param)
    return [checked_name(key, param=param, max_length=MAX_KEY_LENGTH) for key in files]
