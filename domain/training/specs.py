"""Kind-specific job settings as frozen value objects, stored in events as plain dicts.

Each spec is built once at create by `fine_tuning_spec` / `rl_spec`, which check every
field and name the offending `param` with OpenAI's nesting (e.g.
"method.dpo.hyperparameters.beta"). `to_dict` / `spec_from_dict` round-trip exactly, so
replaying the Created event rebuilds an equal spec.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.shared.errors import ValidationFailedError
from domain.training.graders import checked_grader
from domain.training.hyperparameters import Value, checked, resolve

FINE_TUNING = "fine_tuning"
RL = "rl"
KINDS = (FINE_TUNING, RL)
METHODS = ("supervised", "dpo")
MAX_SUFFIX_LENGTH = 64
SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_ROLLOUTS_PER_PROMPT = 64
MAX_KL_BETA = 10.0
MAX_TOKENS_LIMIT = 32_768
DEFAULT_SAMPLING = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 1024}
DEFAULT_ROLLOUTS_PER_PROMPT = 8
DEFAULT_KL_BETA = 0.04


@dataclass(frozen=True)
class PinnedFile:
    """A dataset at the version current when the job was created: what the job trains on."""

    dataset_id: UUID
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id.hex, "version": self.version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PinnedFile:
        return cls(UUID(hex=data["dataset_id"]), int(data["version"]))


@dataclass(frozen=True)
class FineTuningSpec:
    method: str
    hyperparameters: dict[str, Value]  # as requested, "auto" kept
    resolved_hyperparameters: dict[str, int | float]  # what "auto" became at create
    training_file: PinnedFile
    validation_file: PinnedFile | None
    suffix: str | None

    kind = FINE_TUNING

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "hyperparameters": dict(self.hyperparameters),
                "resolved_hyperparameters": dict(self.resolved_hyperparameters),
                "training_file": self.training_file.to_dict(),
                "validation_file": self.validation_file.to_dict()
                if self.validation_file else None,
                "suffix": self.suffix}


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p,
                "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class RlSpec:
    training_file: PinnedFile
    grader: dict[str, Any]
    rollouts_per_prompt: int
    kl_beta: float
    sampling: Sampling
    hyperparameters: dict[str, Value]
    resolved_hyperparameters: dict[str, int | float]

    kind = RL

    def to_dict(self) -> dict[str, Any]:
        return {"training_file": self.training_file.to_dict(), "grader": self.grader,
                "rollouts_per_prompt": self.rollouts_per_prompt, "kl_beta": self.kl_beta,
                "sampling": self.sampling.to_dict(),
                "hyperparameters": dict(self.hyperparameters),
                "resolved_hyperparameters": dict(self.resolved_hyperparameters)}


Spec = FineTuningSpec | RlSpec


def spec_from_dict(kind: str, data: Mapping[str, Any]) -> Spec:
    """The inverse of `to_dict`; used when an event is applied."""
    if kind == FINE_TUNING:
        validation = data["validation_file"]
        return FineTuningSpec(
            method=data["method"], hyperparameters=dict(data["hyperparameters"]),
            resolved_hyperparameters=dict(data["resolved_hyperparameters"]),
            training_file=PinnedFile.from_dict(data["training_file"]),
            validation_file=PinnedFile.from_dict(validation) if validation else None,
            suffix=data["suffix"])
    sampling = data["sampling"]
    return RlSpec(
        training_file=PinnedFile.from_dict(data["training_file"]),
        grader=dict(data["grader"]),
        rollouts_per_prompt=int(data["rollouts_per_prompt"]), kl_beta=float(data["kl_beta"]),
        sampling=Sampling(float(sampling["temperature"]), float(sampling["top_p"]),
                          int(sampling["max_tokens"])),
        hyperparameters=dict(data["hyperparameters"]),
        resolved_hyperparameters=dict(data["resolved_hyperparameters"]))


# -- building checked specs ---------------------------------------------------------------


def fine_tuning_spec(*, method: str, hyperparameters: Mapping[str, object] | None,
                     training_file: PinnedFile, validation_file: PinnedFile | None,
                     suffix: str | None, examples: int) -> FineTuningSpec:
    """`examples` is the training file's example count, which "auto" values depend on."""
    if method not in METHODS:
        raise ValidationFailedError(f"'method.type' must be one of {', '.join(METHODS)}.",
                                    param="method.type")
    requested = checked(method, hyperparameters, param=f"method.{method}.hyperparameters")
    if suffix is not None and not SUFFIX.fullmatch(suffix):
        raise ValidationFailedError(
            f"'suffix' must be 1 to {MAX_SUFFIX_LENGTH} letters, digits, '-' or '_'.",
            param="suffix")
    return FineTuningSpec(method=method, hyperparameters=requested,
                          resolved_hyperparameters=resolve(requested, examples),
                          training_file=training_file, validation_file=validation_file,
                          suffix=suffix)


def rl_spec(*, training_file: PinnedFile, grader: object, rollouts_per_prompt: int | None,
            kl_beta: float | None, sampling: Mapping[str, object] | None,
            hyperparameters: Mapping[str, object] | None, examples: int) -> RlSpec:
    rollouts = DEFAULT_ROLLOUTS_PER_PROMPT if rollouts_per_prompt is None else rollouts_per_prompt
    if isinstance(rollouts, bool) or not isinstance(rollouts, int) \
            or not 1 <= rollouts <= MAX_ROLLOUTS_PER_PROMPT:
        raise ValidationFailedError(
            f"'rollouts_per_prompt' must be an integer in [1, {MAX_ROLLOUTS_PER_PROMPT}].",
            param="rollouts_per_prompt")
    beta = _number(DEFAULT_KL_BETA if kl_beta is None else kl_beta, param="kl_beta",
                   low=0.0, high=MAX_KL_BETA)
    requested = checked("rl", hyperparameters, param="hyperparameters")
    return RlSpec(training_file=training_file, grader=checked_grader(grader),
                  rollouts_per_prompt=rollouts,
                  kl_beta=beta, sampling=_sampling(sampling),
                  hyperparameters=requested,
                  resolved_hyperparameters=resolve(requested, examples))


def _sampling(sampling: Mapping[str, object] | None) -> Sampling:
    given = dict(sampling or {})
    for key in given:
        if key not in DEFAULT_SAMPLING:
            raise ValidationFailedError(f"Unknown sampling setting '{key}'.",
                                        param=f"sampling.{key}")
    values = {**DEFAULT_SAMPLING, **given}
    max_tokens = values["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) \
            or not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise ValidationFailedError(
            f"'sampling.max_tokens' must be an integer in [1, {MAX_TOKENS_LIMIT}].",
            param="sampling.max_tokens")
    top_p = _number(values["top_p"],
                    param="sampling.top_p", low=0.0, high=1.0, low_open=True)
    temperature = _number(values["temperature"], param="sampling.temperature",
                          low=0.0, high=2.0)
    return Sampling(temperature=temperature, top_p=top_p, max_tokens=max_tokens)


def _number(value: object, *, param: str, low: float, high: float,
            low_open: bool = False) -> float:
    left = "(" if low_open else "["
    message = f"'{param}' must be a number in {left}{low:g}, {high:g}]."
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise ValidationFailedError(message, param=param)
    if (value <= low if low_open else value < low) or value > high:
        raise ValidationFailedError(message, param=param)
    return float(value)
