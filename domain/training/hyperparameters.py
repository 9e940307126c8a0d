"""Requested hyperparameters (a number in range, or "auto") and what "auto" resolves to.

Ranges, as OpenAI documents or implies them:

| name                       | type  | range     | methods          | "auto" resolves to        |
|----------------------------|-------|-----------|------------------|---------------------------|
| `n_epochs`                 | int   | 1..50     | all              | from dataset size (below) |
| `batch_size`               | int   | 1..256    | all              | ~0.2% of examples, 1..256 |
| `learning_rate_multiplier` | float | (0, 10]   | all              | 1.0                       |
| `beta`                     | float | (0, 2]    | dpo only         | 0.1                       |

`n_epochs` "auto" follows OpenAI's published heuristic: 3 epochs, but enough epochs that a tiny
set is seen at least 100 times in total (at most 25 epochs), and fewer for a huge set so that
about 25,000 examples are trained (at least 1 epoch). Resolution is a pure function of the
requested values and the pinned dataset's example count, so a replay resolves the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from domain.shared.errors import ValidationFailedError

AUTO = "auto"
Value = int | float | str


@dataclass(frozen=True)
class Bound:
    kind: type[int] | type[float]
    low: float
    high: float
    low_open: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        noun = "an integer" if self.kind is int else "a number"
        return f"{noun} in {left}{self.low:g}, {self.high:g}]"


BOUNDS: dict[str, Bound] = {
    "n_epochs": Bound(int, 1, 50),
    "batch_size": Bound(int, 1, 256),
    "learning_rate_multiplier": Bound(float, 0, 10, low_open=True),
    "beta": Bound(float, 0, 2, low_open=True),
}

METHOD_KEYS: dict[str, tuple[str, ...]] = {
    "supervised": ("n_epochs", "batch_size", "learning_rate_multiplier"),
    "dpo": ("n_epochs", "batch_size", "learning_rate_multiplier", "beta"),
    "rl": ("n_epochs", "batch_size", "learning_rate_multiplier"),
}

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
BATCH_FRACTION = 0.002
DEFAULT_LEARNING_RATE_MULTIPLIER = 1.0
DEFAULT_BETA = 0.1


def checked(method: str, requested: Mapping[str, object] | None, *,
            param: str) -> dict[str, Value]:
    """Every hyperparameter of `method`, "auto" where not given; unknown keys are refused.

    `param` is the path of the hyperparameters object, e.g.
    "method.supervised.hyperparameters", so errors name e.g. "...hyperparameters.n_epochs".
    """
    keys = METHOD_KEYS[method]
    given = dict(requested or {})
    for key in given:
        if key not in keys:
            raise ValidationFailedError(
                f"Unknown hyperparameter '{key}' for {method}; expected one of "
                f"{', '.join(keys)}.", param=f"{param}.{key}")
    return {key: _checked_value(key, given.get(key, AUTO), param=f"{param}.{key}")
            for key in keys}


def _checked_value(key: str, value: object, *, param: str) -> Value:
    if value == AUTO and isinstance(value, str):
        return AUTO
    bound = BOUNDS[key]
    message = f"'{key}' must be \"auto\" or {bound.describe()}."
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailedError(message, param=param)
    if bound.kind is int and not isinstance(value, int):
        raise ValidationFailedError(message, param=param)
    if not math.isfinite(value) or not bound.admits(value):
        raise ValidationFailedError(message, param=param)
    return int(value) if bound.kind is int else float(value)


def resolve(requested: Mapping[str, Value], examples: int) -> dict[str, int | float]:
    """Concrete values for a checked request: "auto" becomes the documented default."""
    examples = max(1, examples)
    resolved: dict[str, int | float] = {}
    for key, value in requested.items():
        if value != AUTO:
            resolved[key] = value  # type: ignore[assignment]  # checked() made it a number
    if requested.get("n_epochs") == AUTO:
        resolved["n_epochs"] = auto_epochs(examples)
    if requested.get("batch_size") == AUTO:
        resolved["batch_size"] = min(256, max(1, math.ceil(examples * BATCH_FRACTION)))
    if requested.get("learning_rate_multiplier") == AUTO:
        resolved["learning_rate_multiplier"] = DEFAULT_LEARNING_RATE_MULTIPLIER
    if requested.get("beta") == AUTO:
        resolved["beta"] = DEFAULT_BETA
    return {key: resolved[key] for key in requested}


def auto_epochs(examples: int) -> int:
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / examples))
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS
