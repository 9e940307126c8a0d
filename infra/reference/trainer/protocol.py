"""What the executor and the trainer say to each other: the job file in, JSON lines out.

The executor writes the job file and reads one compact JSON object per stdout line: `started`,
then `metrics` after every step (and `checkpoint` when one is written), then exactly one of
`succeeded`, `failed` (an error the trainer can name, with a snake_case code) or `cancelled`
(after SIGTERM). A trainer that exits non-zero crashed; its stderr says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

METHODS = ("supervised", "dpo", "rl")


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int  # already folded into total_steps by the executor
    batch_size: int
    learning_rate_multiplier: float = 1.0
    beta: float = 0.1  # DPO only


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 32


@dataclass(frozen=True)
class RLSettings:
    grader: dict[str, Any]
    rollouts_per_prompt: int
    kl_beta: float
    sampling: Sampling


@dataclass(frozen=True)
class Job:
    """The job file. A null `base_weights` means the base model, `init_params(0)`."""

    job_id: str
    method: str
    training_file: str
    validation_file: str | None
    base_weights: str | None
    hyperparameters: Hyperparameters
    rl: RLSettings | None
    seed: int
    total_steps: int
    checkpoint_every: int
    output_dir: str

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; expected one of {METHODS}.")
        if self.method == "rl" and self.rl is None:
            raise ValueError("An rl job needs its 'rl' settings.")
        if self.total_steps < 1 or self.checkpoint_every < 1:
            raise ValueError("total_steps and checkpoint_every must be at least 1.")

    @classmethod
    def read(cls, path: str | Path) -> Job:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        settings = raw.get("rl")
        rl = None if settings is None else RLSettings(
            **{**settings, "sampling": Sampling(**settings["sampling"])})
        return cls(**{**raw, "hyperparameters": Hyperparameters(**raw["hyperparameters"]),
                      "rl": rl})


class TrainingError(Exception):
    """An error the trainer can name: reported as a `failed` line, then a clean exit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Started(TypedDict):
    type: Literal["started"]
    total_steps: int
    parameters: int


class Metrics(TypedDict):
    type: Literal["metrics"]
    step: int
    metrics: dict[str, float]


class Checkpoint(TypedDict):
    type: Literal["checkpoint"]
    step: int
    path: str
    metrics: dict[str, float]


class Succeeded(TypedDict):
    type: Literal["succeeded"]
    model_path: str
    trained_tokens: int
    grader_calls: int


class Failed(TypedDict):
    type: Literal["failed"]
    code: str
    message: str


class Cancelled(TypedDict):
    type: Literal["cancelled"]
    step: int


Line = Started | Metrics | Checkpoint | Succeeded | Failed | Cancelled


def emit(line: Line) -> None:
    """Print one compact JSON line and flush it, so the executor sees it at once."""
    print(json.dumps(line, separators=(",", ":"), allow_nan=False), flush=True)
