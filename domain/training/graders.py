"""RL graders, validated at create (OpenAI RFT's shapes) without ever running user code.

- `string_check`: `input` and `reference` templates, `operation` in eq | ne | like | ilike.
- `text_similarity`: `input`, `reference`, `evaluation_metric` in `METRICS`, optional
  `pass_threshold` in [0, 1]. `cosine` is left out: it needs an embedding model we do not host.
- `python`: `source` that compiles and defines `grade(sample, item)` at module level; checked
  with `compile()` and `ast` only, never executed here.
- `multi`: `graders` (name -> one of the graders above; no nesting) and `calculate_output`,
  an arithmetic formula over those names: numbers, names, + - * /, unary minus, parentheses.

Templates may use `{{ sample.output_text }}`, `{{ sample.output_json[.field...] }}` and
`{{ item.<field>[.field...] }}`: OpenAI's only two namespaces. Every error names the `param`
path of the offending field, e.g. "grader.graders.b.operation".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from domain.shared.errors import ValidationFailedError

OPERATIONS = ("eq", "ne", "like", "ilike")
METRICS = ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3",
           "rouge_4", "rouge_5", "rouge_l")
MAX_TEMPLATE_LENGTH = 4096
MAX_SOURCE_LENGTH = 256 * 1024
MAX_NAME_LENGTH = 64
MAX_SUBGRADERS = 16
MAX_FORMULA_LENGTH = 1024

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
VARIABLE = re.compile(
    r"sample\.output_text|sample\.output_json(\.[A-Za-z_]\w*)*|item(\.[A-Za-z_]\w*)+")
IDENTIFIER = re.compile(r"[A-Za-z_]\w{0,63}")

Grader = dict[str, Any]


def checked_grader(grader: object, *, param: str = "grader") -> Grader:
    """A normalized copy of a valid grader, or ValidationFailedError naming the field."""
    return _checked(grader, param=param, nested=False)


def _checked(grader: object, *, param: str, nested: bool) -> Grader:
    if not isinstance(grader, Mapping):
        raise ValidationFailedError(f"'{param}' must be an object.", param=param)
    kind = grader.get("type")
    checkers = dict(CHECKERS)
    if nested:
        del checkers["multi"]
    if kind not in checkers:
        raise ValidationFailedError(
            f"'{param}.type' must be one of {', '.join(checkers)}.", param=f"{param}.type")
    checker, required, optional = checkers[kind]
    for key in grader:
        if key not in {"type", "name", *required, *optional}:
            raise ValidationFailedError(f"Unknown field '{key}' for a {kind} grader.",
                                        param=f"{param}.{key}")
    for key in required:
        if key not in grader:
            raise ValidationFailedError(f"A {kind} grader needs '{key}'.",
                                        param=f"{param}.{key}")
    result: Grader = {"type": kind}
    if "name" in grader:
        result["name"] = _string(grader["name"], param=f"{param}.name", max_length=MAX_NAME_LENGTH)
    result.update(checker(grader, param))
    return result


def _string(value: object, *, param: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ValidationFailedError(
            f"'{param}' must be a non-empty string of at most {max_length} characters.",
            param=param)
    return value


def _template(value: object, *, param: str) -> str:
    text = _string(value, param=param, max_length=MAX_TEMPLATE_LENGTH)
    for match in PLACEHOLDER.finditer(text):
        if not VARIABLE.fullmatch(match.group(1)):
            raise ValidationFailedError(
                f"Unknown template variable '{match.group(1)}' in '{param}'; use "
                "sample.output_text, sample.output_json or item.<field>.", param=param)
    rest = PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise ValidationFailedError(f"Unbalanced '{{{{ }}}}' in '{param}'.", param=param)
    return text


def _string_check(grader: Mapping[str, Any], param: str) -> Grader:
    operation = grader["operation"]
    if operation not in OPERATIONS:
        raise ValidationFailedError(
            f"'{param}.operation' must be one of {', '.join(OPERATIONS)}.",
            param=f"{param}.operation")
    return {"input": _template(grader["input"], param=f"{param}.input"),
            "reference": _template(grader["reference"], param=f"{param}.reference"),
            "operation": operation}


def _text_similarity(grader: Mapping[str, Any], param: str) -> Grader:
    metric = grader["evaluation_metric"]
    if metric not in METRICS:
        raise ValidationFailedError(
            f"'{param}.evaluation_metric' must be one of {', '.join(METRICS)}.",
            param=f"{param}.evaluation_metric")
    result: Grader = {"input": _template(grader["input"], param=f"{param}.input"),
                      "reference": _template(grader["reference"], param=f"{param}.reference"),
                      "evaluation_metric": metric}
    if "pass_threshold" in grader:
        threshold = grader["pass_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not 0 <= threshold <= 1:
            raise ValidationFailedError(f"'{param}.pass_threshold' must be a number in [0, 1].",
                                        param=f"{param}.pass_threshold")
        result["pass_threshold"] = float(threshold)
    return result


def _python(grader: Mapping[str, Any], param: str) -> Grader:
    source = _string(grader["source"], param=f"{param}.source", max_length=MAX_SOURCE_LENGTH)
    try:
        tree = ast.parse(source, filename="<grader>")
        compile(tree, "<grader>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or type(error).__name__
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ValidationFailedError(f"The grader's source does not compile: {detail}{where}.",
                                    param=f"{param}.source") from None
    if not any(_is_grade(node) for node in tree.body):
        raise ValidationFailedError(
            "The grader's source must define `grade(sample, item)` at module level.",
            param=f"{param}.source")
    result: Grader = {"source": source}
    if "image_tag" in grader:
        result["image_tag"] = _string(grader["image_tag"], param=f"{param}.image_tag",
                                      max_length=MAX_NAME_LENGTH)
    return result


def _is_grade(node: ast.stmt) -> bool:
    """A plain `def grade` callable with two positional arguments."""
    if not isinstance(node, ast.FunctionDef) or node.name != "grade":
        return False
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    required_keywords = sum(1 for default in args.kw_defaults if default is None)
    takes_two = positional >= 2 or args.vararg is not None
    return takes_two and required <= 2 and required_keywords == 0


def _multi(grader: Mapping[str, Any], param: str) -> Grader:
    graders = grader["graders"]
    if not isinstance(graders, Mapping) or not 1 <= len(graders) <= MAX_SUBGRADERS:
        raise ValidationFailedError(
            f"'{param}.graders' must map 1 to {MAX_SUBGRADERS} names to graders.",
            param=f"{param}.graders")
    checked: dict[str, Grader] = {}
    for name, sub in graders.items():
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
            raise ValidationFailedError(
                "Grader names must be identifiers (letters, digits, '_'; not starting with a "
                "digit), so that calculate_output can refer to them.",
                param=f"{param}.graders.{name}")
        checked[name] = _checked(sub, param=f"{param}.graders.{name}", nested=True)
    formula = _formula(grader["calculate_output"], set(checked),
                       param=f"{param}.calculate_output")
    return {"graders": checked, "calculate_output": formula}


FORMULA_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
                 ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)


def _formula(value: object, names: set[str], *, param: str) -> str:
    formula = _string(value, param=param, max_length=MAX_FORMULA_LENGTH)
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValidationFailedError(f"'{param}' is not a formula.", param=param) from None
    for node in ast.walk(tree):
        if not isinstance(node, FORMULA_NODES):
            raise ValidationFailedError(
                f"'{param}' may use only grader names, numbers, + - * / and parentheses.",
                param=param)
        if isinstance(node, ast.Constant) and (
                isinstance(node.value, bool) or not isinstance(node.value, int | float)):
            raise ValidationFailedError(f"'{param}' may use only numeric constants.",
                                        param=param)
        if isinstance(node, ast.Name) and node.id not in names:
            raise ValidationFailedError(f"'{param}' refers to unknown grader '{node.id}'.",
                                        param=param)
    return formula


Checker = Callable[[Mapping[str, Any], str], Grader]
CHECKERS: dict[str, tuple[Checker, tuple[str, ...], tuple[str, ...]]] = {
    "string_check": (_string_check, ("input", "reference", "operation"), ()),
    "text_similarity": (_text_similarity, ("input", "reference", "evaluation_metric"),
                        ("pass_threshold",)),
    "python": (_python, ("source",), ("image_tag",)),
    "multi": (_multi, ("graders", "calculate_output"), ()),
}
