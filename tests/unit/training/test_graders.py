"""RL graders are validated at create, with the offending field's param path."""

from __future__ import annotations

from typing import Any

import pytest

from domain.shared.errors import ValidationFailedError
from domain.training.graders import checked_grader

STRING_CHECK = {"type": "string_check", "input": "{{sample.output_text}}",
                "reference": "{{ item.answer }}", "operation": "ilike"}
SIMILARITY = {"type": "text_similarity", "input": "{{ sample.output_text }}",
              "reference": "{{ item.reference }}", "evaluation_metric": "rouge_l",
              "pass_threshold": 0.5}
PYTHON = {"type": "python", "source": "def grade(sample, item):\n    return 1.0\n"}


def multi(**overrides: Any) -> dict[str, Any]:
    return {"type": "multi", "graders": {"a": STRING_CHECK, "b": SIMILARITY, "c": PYTHON},
            "calculate_output": "(a + 2 * b - c) / 3", **overrides}


def param_of(grader: Any) -> str | None:
    with pytest.raises(ValidationFailedError) as raised:
        checked_grader(grader)
    return raised.value.param


def test_valid_graders_come_back_normalized() -> None:
    assert checked_grader(STRING_CHECK) == STRING_CHECK
    assert checked_grader(SIMILARITY)["pass_threshold"] == 0.5
    assert checked_grader(PYTHON) == PYTHON
    assert checked_grader(multi())["graders"]["b"] == SIMILARITY
    assert checked_grader({**PYTHON, "source": "def grade(*args):\n    return 0\n"})


@pytest.mark.parametrize(("grader", "param"), [
    ("nope", "grader"),
    ({"type": "score_model"}, "grader.type"),
    ({**STRING_CHECK, "operation": "regex"}, "grader.operation"),
    ({**STRING_CHECK, "extra": 1}, "grader.extra"),
    ({"type": "string_check", "input": "x", "operation": "eq"}, "grader.reference"),
    ({**STRING_CHECK, "input": "{{ secrets.key }}"}, "grader.input"),
    ({**STRING_CHECK, "reference": "{{ item.answer }"}, "grader.reference"),
    ({**STRING_CHECK, "input": ""}, "grader.input"),
    ({**SIMILARITY, "evaluation_metric": "cosine"}, "grader.evaluation_metric"),
    ({**SIMILARITY, "pass_threshold": 2}, "grader.pass_threshold"),
    ({**PYTHON, "source": "def grade(sample, item):\n  return (\n"}, "grader.source"),
    ({**PYTHON, "source": "def score(sample, item):\n    return 1\n"}, "grader.source"),
    ({**PYTHON, "source": "def grade(sample):\n    return 1\n"}, "grader.source"),
    ({**PYTHON, "source": "async def grade(sample, item):\n    return 1\n"}, "grader.source"),
    ({**PYTHON, "source": "class X:\n    def grade(self, s, i):\n        return 1\n"},
     "grader.source"),
])
def test_invalid_graders_name_the_field(grader: Any, param: str) -> None:
    assert param_of(grader) == param


@pytest.mark.parametrize(("grader", "param"), [
    (multi(graders={"a": STRING_CHECK, "b": {**STRING_CHECK, "operation": "x"}}),
     "grader.graders.b.operation"),
    (multi(graders={"a": STRING_CHECK, "b": {**PYTHON, "source": "grade("}}),
     "grader.graders.b.source"),
    (multi(graders={"a": multi()}), "grader.graders.a.type"),
    (multi(graders={"not valid": STRING_CHECK}), "grader.graders.not valid"),
    (multi(graders={}), "grader.graders"),
    (multi(calculate_output="a + d"), "grader.calculate_output"),
    (multi(calculate_output="a ** 2"), "grader.calculate_output"),
    (multi(calculate_output="__import__('os')"), "grader.calculate_output"),
    (multi(calculate_output="a.b"), "grader.calculate_output"),
    (multi(calculate_output="'x'"), "grader.calculate_output"),
    (multi(calculate_output="a +"), "grader.calculate_output"),
])
def test_multi_graders_name_the_nested_field(grader: Any, param: str) -> None:
    assert param_of(grader) == param


def test_python_source_is_compiled_never_run() -> None:
    source = "import os\nos.system('touch /tmp/pwned')\ndef grade(sample, item):\n  return 1\n"
    assert checked_grader({"type": "python", "source": source})["source"] == source
