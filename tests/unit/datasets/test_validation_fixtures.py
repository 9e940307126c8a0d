"""Validation reports checked line by line against hand-made fixtures, one per code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.datasets.validation import ValidationReport, validate_lines
from domain.datasets.validation.codes import ALL_CODES, WARNINGS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "datasets"


def estimate(text: str) -> int:
    return -(-len(text.encode()) // 4)


def validate(name: str, **options: Any) -> ValidationReport:
    options = {"min_examples": 1, **options}
    with (FIXTURES / f"{name}.jsonl").open("rb") as lines:
        return validate_lines(lines, count_tokens=estimate, token_estimate=True, **options)


def found(issues: tuple[Any, ...]) -> list[tuple[int | None, str, str]]:
    return [(i.line, i.code, i.path) for i in issues]


PAIR = {"declared_format": "preference"}
RL = {"purpose": "rl"}
# fixture: (options, expected errors, expected warnings)
CASES: dict[str, tuple[dict[str, Any], list[Any], list[Any]]] = {
    "invalid_utf8": ({}, [(2, "invalid_utf8", "$")], []),
    "bom": ({}, [], [(1, "bom", "$")]),
    "blank_line": ({}, [(2, "blank_line", "$"), (3, "blank_line", "$")], []),
    "truncated_line": ({}, [(2, "truncated_line", "$"), (4, "truncated_line", "$")], []),
    "invalid_json": ({}, [(2, "invalid_json", "$"), (3, "invalid_json", "$"),
                          (4, "invalid_json", "$")], []),
    "not_an_object": ({}, [(2, "not_an_object", "$"), (3, "not_an_object", "$"),
                           (4, "not_an_object", "$.messages[0]"), (5, "not_an_object", "$")], []),
    "missing_messages": ({}, [(2, "missing_messages", "$.messages"),
                              (3, "missing_messages", "$.messages")],
                         [(3, "unknown_key", "$.conversation")]),
    "messages_not_a_list": ({}, [(2, "messages_not_a_list", "$.messages"),
                                 (3, "messages_not_a_list", "$.messages")], []),
    "empty_messages": ({}, [(2, "empty_messages", "$.messages")], []),
    "unknown_role": ({}, [(2, "unknown_role", "$.messages[0].role"),
                          (3, "unknown_role", "$.messages[1].role")], []),
    "invalid_role_order": ({}, [(2, "invalid_role_order", "$.messages[0].role"),
                                (3, "invalid_role_order", "$.messages[1].role"),
                                (4, "invalid_role_order", "$.messages[1].role"),
                                (5, "invalid_role_order", "$.messages[1].role")], []),
    "invalid_role_order_rl": (RL, [(2, "invalid_role_order", "$.messages[1].role")], []),
    "missing_content": ({}, [(2, "missing_content", "$.messages[0].content"),
                             (3, "missing_content", "$.messages[0].content"),
                             (4, "missing_content", "$.messages[1].content"),
                             (5, "missing_content", "$.messages[0].content"),
                             (6, "missing_content", "$.messages[1].content")], []),
    "no_assistant_message": ({}, [(2, "no_assistant_message", "$.messages"),
                                  (3, "no_assistant_message", "$.messages")], []),
    "unknown_key": ({}, [], [(2, "unknown_key", "$.source"),
                             (3, "unknown_key", "$.messages[0].lang")]),
    "invalid_weight": ({}, [(2, "invalid_weight", "$.messages[1].weight"),
                            (3, "invalid_weight", "$.messages[1].weight"),
                            (4, "invalid_weight", "$.messages[1].weight"),
                            (5, "invalid_weight", "$.messages[0].weight"),
                            (6, "invalid_weight", "$.messages[1].weight")], []),
    "mixed_formats": ({}, [(3, "mixed_formats", "$")], []),
    "format_mismatch": (PAIR, [(2, "format_mismatch", "$")], []),
    "incomplete_preference_pair": (
        PAIR, [(2, "incomplete_preference_pair", "$.non_preferred_output"),
               (3, "incomplete_preference_pair", "$.preferred_output"),
               (4, "incomplete_preference_pair", "$.preferred_output"),
               (5, "incomplete_preference_pair", "$.non_preferred_output[0].role"),
               (6, "missing_messages", "$.input.messages")],
        [(6, "unknown_key", "$.input.prompt")]),
    "missing_prompt": (RL, [(2, "missing_prompt", "$.messages")], []),
    "grader_fields": (RL, [], [(2, "grader_fields", "$"), (3, "grader_fields", "$")]),
    "too_few_examples": ({"min_examples": 10}, [(None, "too_few_examples", "$")], []),
    "too_long_example": ({"context_length": 50}, [(2, "too_long_example", "$")], []),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_reports_exactly_its_findings(name: str) -> None:
    options, errors, warnings = CASES[name]
    report = validate(name, **options)
    assert found(report.errors) == errors
    assert found(report.warnings) == warnings
    assert report.valid == (not errors)
    assert sum(report.error_counts.values()) == len(errors)


def test_every_code_has_a_fixture_that_shows_it() -> None:
    shown = {code for _, errors, warnings in CASES.values() for _, code, _ in errors + warnings}
    assert shown == ALL_CODES
    assert WARNINGS <= ALL_CODES


@pytest.mark.parametrize(("name", "options", "detected"), [
    ("valid_chat", {}, "chat"),
    ("valid_dpo", PAIR, "preference"),
    ("valid_rl", RL, "prompt"),
])
def test_valid_fixtures_pass_clean(name: str, options: dict[str, Any], detected: str) -> None:
    report = validate(name, min_examples=10, context_length=4096, **options)
    assert (report.valid, report.errors, report.warnings) == (True, (), ())
    assert (report.detected_format, report.examples) == (detected, 10)
    assert report.token_stats.over_context == 0
    assert report.token_stats.estimated is True


def test_detected_format_is_mixed_when_rows_disagree() -> None:
    assert validate("mixed_formats").detected_format == "mixed"


def test_token_stats_of_the_long_example() -> None:
    stats = validate("too_long_example", context_length=50).token_stats
    # "Hi"+"Hello": 1+2 content tokens, 3 per message, 3 to prime the reply.
    assert (stats.total, stats.p50, stats.p95, stats.max, stats.over_context) == (
        12 + 111 + 12, 12, 111, 111, 1)


def test_report_to_dict_is_json_ready() -> None:
    import json

    data = validate("bom").to_dict()
    assert json.loads(json.dumps(data))["warnings"][0] == {
        "line": 1, "path": "$", "code": "bom",
        "message": "The file starts with a UTF-8 byte-order mark; ignored."}
    assert data["valid"] is True
