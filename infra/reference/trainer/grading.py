"""RL graders (shapes checked by domain/training/graders.py) scoring a sample and its item.

`string_check` and `text_similarity` render their `input` and `reference` templates, where
`{{ sample.output_text }}`, `{{ sample.output_json.a.b }}` (the output parsed as JSON) and
`{{ item.a.b }}` (the prompt row's other fields) stand for those values and anything missing
for an empty string. `python` calls the source's `grade(sample, item)`; `multi` scores its
named graders and combines them with `calculate_output`, evaluated on its syntax tree. Every
score is clamped to [0, 1]; every leaf grader evaluated counts as one grader call.

The python grader runs the job owner's code with `exec` in this process, on copies of the
sample and item: the trainer subprocess is the isolation boundary, nothing here sandboxes it.
A grader that raises, or a score that is not a finite number, fails the job (`grader_error`).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import json
import math
import numbers
import operator
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from infra.reference.trainer.protocol import TrainingError
from infra.reference.trainer.similarity import METRICS

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv}
Spec = Mapping[str, Any]
Values = Mapping[str, Any]  # the template namespaces: "sample" and "item"


class GraderError(TrainingError):
    """A grader that cannot give a score: the job fails with `grader_error`."""

    def __init__(self, message: str) -> None:
        super().__init__("grader_error", message)


@dataclass
class Grader:
    """A grader spec as a function of (output text, item) to [0, 1], counting its calls."""

    spec: Spec
    calls: int = 0

    def __call__(self, output_text: str, item: Mapping[str, Any]) -> float:
        return self._score(self.spec, {"sample": _sample(output_text), "item": item})

    def _score(self, spec: Spec, values: Values) -> float:
        if spec["type"] == "multi":
            scores = {name: self._score(sub, values) for name, sub in spec["graders"].items()}
            return _clamped(_formula(spec["calculate_output"], scores), "calculate_output")
        self.calls += 1
        return _clamped(LEAVES[spec["type"]](spec, values), f"The {spec['type']} grader")


def _sample(output_text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(output_text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        parsed = None
    return {"output_text": output_text, "output_json": parsed}


def render(template: str, values: Values) -> str:
    """The template with each `{{ a.b.c }}` replaced by that value's text ('' if missing)."""
    return PLACEHOLDER.sub(lambda match: _text(_lookup(values, match.group(1))), template)


def _lookup(values: Values, path: str) -> object:
    found: object = values
    for name in path.split("."):
        found = found.get(name) if isinstance(found, Mapping) else None
    return found


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _string_check(spec: Spec, values: Values) -> float:
    given, reference = render(spec["input"], values), render(spec["reference"], values)
    passed = {"eq": given == reference, "ne": given != reference, "like": reference in given,
              "ilike": reference.lower() in given.lower()}[spec["operation"]]
    return 1.0 if passed else 0.0


def _text_similarity(spec: Spec, values: Values) -> float:
    metric = METRICS[spec["evaluation_metric"]]
    score = metric(render(spec["input"], values), render(spec["reference"], values))
    if "pass_threshold" in spec:
        return 1.0 if score >= spec["pass_threshold"] else 0.0
    return score


@functools.cache
def _compiled(source: str) -> CodeType:
    return compile(source, "<grader>", "exec", dont_inherit=True)


def _python(spec: Spec, values: Values) -> object:
    namespace: dict[str, Any] = {"__name__": "grader"}
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol's lines
            exec(_compiled(spec["source"]), namespace)  # noqa: S102 - see the module docstring
            return namespace["grade"](copy.deepcopy(values["sample"]),
                                      copy.deepcopy(values["item"]))
    except (Exception, SystemExit) as error:
        raise GraderError(f"The python grader raised {type(error).__name__}: {error}") from None


LEAVES: dict[str, Callable[[Spec, Values], object]] = {
    "string_check": _string_check, "text_similarity": _text_similarity, "python": _python}


def _clamped(score: object, what: str) -> float:
    """The score within [0, 1]; any real number is one (True and False too, as 1 and 0)."""
    if not isinstance(score, numbers.Real) or not math.isfinite(score):
        raise GraderError(f"{what} gave {score!r}; a score must be a finite number.")
    return min(max(float(score), 0.0), 1.0)


def _formula(formula: str, scores: Mapping[str, float]) -> float:
    try:
        return _evaluate(ast.parse(formula.strip(), mode="eval").body, scores)
    except (ArithmeticError, SyntaxError) as error:
        raise GraderError(f"calculate_output {formula!r} failed: {error}") from None


def _evaluate(node: ast.expr, scores: Mapping[str, float]) -> float:
    """Numbers, grader names, + - * / and unary signs: nothing else is evaluated."""
    match node:
        case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
            return float(value)
        case ast.Name(id=name) if name in scores:
            return scores[name]
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() as sign, operand=operand):
            value = _evaluate(operand, scores)
            return -value if isinstance(sign, ast.USub) else value
        case ast.BinOp(left=left, op=op, right=right) if type(op) in OPERATORS:
            return OPERATORS[type(op)](_evaluate(left, scores), _evaluate(right, scores))
    raise GraderError(f"calculate_output may not use {ast.unparse(node)!r}.")
