"""What every training method hands the shared loop in `__main__`: steps and their metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One optimizer step done: its metrics, the tokens it trained on, the grader calls made."""

    metrics: dict[str, float]
    tokens: int
    grader_calls: int = 0


@dataclass(frozen=True)
class Training:
    """A method ready to run: endless steps (the loop takes what it needs) and the extra
    metrics measured at each checkpoint, such as `valid_loss`."""

    steps: Iterator[Step]
    evaluate: Callable[[], dict[str, float]] = dict
