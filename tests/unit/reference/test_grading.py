"""RL graders: each type, the template forms, multi formulas, python errors and call counts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.training.graders import METRICS as DOMAIN_METRICS
from domain.training.graders import checked_grader
from infra.reference.trainer.grading import Grader, GraderError, render
from infra.reference.trainer.similarity import METRICS

ITEM = {"answer": "Paris", "meta": {"city": "Paris", "rank": 1}}


def check(operation: str, given: str = "{{ sample.output_text }}",
          reference: str = "{{ item.answer }}") -> dict[str, Any]:
    return checked_grader({"type": "string_check", "input": given, "reference": reference,
                           "operation": operation})


def similarity(metric: str, **extra: Any) -> dict[str, Any]:
    return checked_grader({"type": "text_similarity", "input": "{{ sample.output_text }}",
                           "reference": "{{ item.answer }}", "evaluation_metric": metric,
                           **extra})


def python(body: str) -> dict[str, Any]:
    return checked_grader({"type": "python", "source": f"def grade(sample, item):\n{body}\n"})


def test_templates_read_the_sample_its_json_and_the_item() -> None:
    values = {"sample": {"output_text": '{"a": {"b": "x"}}', "output_json": {"a": {"b": "x"}}},
              "item": ITEM}
    assert render("{{sample.output_text}}", values) == '{"a": {"b": "x"}}'
    assert render("<{{ sample.output_json.a.b }}>", values) == "<x>"
    assert render("{{ item.meta.city }}/{{ item.meta.rank }}", values) == "Paris/1"
    assert render("[{{ item.nothing.here }}{{ sample.output_json.a.b.c }}]", values) == "[]"


def test_output_json_is_empty_when_the_output_is_not_json() -> None:
    grader = Grader(check("eq", given="{{ sample.output_json.a }}", reference="[]"))
    assert grader("[]", {}) == 0.0
    assert grader('{"a": []}', {}) == 1.0


@pytest.mark.parametrize(("operation", "output", "score"), [
    ("eq", "Paris", 1.0), ("eq", "paris", 0.0), ("ne", "Lyon", 1.0), ("ne", "Paris", 0.0),
    ("like", "It is Paris.", 1.0), ("like", "It is PARIS.", 0.0),
    ("ilike", "It is PARIS.", 1.0), ("ilike", "It is Lyon.", 0.0),
])
def test_string_check(operation: str, output: str, score: float) -> None:
    assert Grader(check(operation))(output, ITEM) == score


@pytest.mark.parametrize("metric", DOMAIN_METRICS)
def test_every_similarity_metric_scores_identical_text_1_and_unrelated_text_0(
        metric: str) -> None:
    sentence = "the capital of France is Paris"  # long enough to have 5-grams
    grader = Grader(similarity(metric))
    assert grader(sentence, {"answer": sentence}) == pytest.approx(1.0)
    assert grader("xyz", {"answer": sentence}) == 0.0


def test_a_pass_threshold_turns_the_score_into_pass_or_fail() -> None:
    assert Grader(similarity("fuzzy_match"))("Pari", ITEM) == pytest.approx(8 / 9)
    assert Grader(similarity("fuzzy_match", pass_threshold=0.8))("Pari", ITEM) == 1.0
    assert Grader(similarity("fuzzy_match", pass_threshold=0.9))("Pari", ITEM) == 0.0


def test_python_graders_get_the_sample_and_item_and_are_clamped() -> None:
    grader = Grader(python("    return len(sample['output_text']) / item['meta']['rank']"))
    assert grader("", ITEM) == 0.0
    assert grader("a", ITEM) == 1.0
    assert grader("abc", ITEM) == 1.0
    assert Grader(python("    return -3"))("a", ITEM) == 0.0
    same = Grader(python("    return sample['output_text'] == item['answer']"))
    assert (same("Paris", ITEM), same("Lyon", ITEM)) == (1.0, 0.0)


@pytest.mark.parametrize("body", [
    "    raise ValueError('no')", "    return 'high'", "    return float('nan')",
    "    return undefined_name", "    import sys; sys.exit(3)",
])
def test_a_python_grader_that_fails_is_a_grader_error(body: str) -> None:
    with pytest.raises(GraderError) as raised:
        Grader(python(body))("a", ITEM)
    assert raised.value.code == "grader_error"


def test_a_python_grader_cannot_write_on_the_protocol_stream(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert Grader(python("    print('noise')\n    return 1"))("a", ITEM) == 1.0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "noise\n")


def test_multi_combines_its_graders_with_the_formula_and_counts_each_call() -> None:
    grader = Grader(checked_grader({
        "type": "multi", "calculate_output": "(exact + 2 * similar - -0.5 * exact) / 4",
        "graders": {"exact": check("eq"), "similar": similarity("fuzzy_match")}}))
    assert grader("Paris", ITEM) == pytest.approx((1 + 2 + 0.5) / 4)
    assert grader("Lyon", ITEM) == 0.0
    assert grader.calls == 4


def test_a_formula_dividing_by_zero_is_a_grader_error() -> None:
    grader = Grader(checked_grader({"type": "multi", "calculate_output": "a / (a - a)",
                                    "graders": {"a": check("eq")}}))
    with pytest.raises(GraderError):
        grader("Paris", ITEM)


def test_the_reference_implements_every_metric_the_domain_accepts() -> None:
    assert set(METRICS) == set(DOMAIN_METRICS)


@given(output=st.text(max_size=30), reference=st.text(max_size=30),
       metric=st.sampled_from(DOMAIN_METRICS))
def test_similarity_scores_stay_within_0_and_1(output: str, reference: str,
                                               metric: str) -> None:
    assert 0.0 <= METRICS[metric](output, reference) <= 1.0 + 1e-12
