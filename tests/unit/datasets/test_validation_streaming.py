"""The validator never raises on any input, keeps bounded state, and streams in constant memory."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.datasets.validation import validate_lines
from domain.datasets.validation.tokens import EXACT_LIMIT, TokenTally
from infra.dataset_rows import decode_plain_chat


def estimate(text: str) -> int:
    return -(-len(text.encode()) // 4)


def split_lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["messages", "role", "content", "weight", "input", "preferred_output",
                         "non_preferred_output", "tool_calls", "x"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["fine_tuning", "rl"]),
       st.sampled_from([None, "chat", "preference", "prompt"]))
def test_never_raises_on_arbitrary_bytes(data: bytes, purpose: str, declared: str | None) -> None:
    report = validate_lines(split_lines(data), purpose=purpose,  # type: ignore[arg-type]
                            declared_format=declared, context_length=8,
                            count_tokens=estimate, token_estimate=True, max_issues=5)
    assert sum(report.error_counts.values()) >= len(report.errors)
    assert sum(report.warning_counts.values()) >= len(report.warnings)
    assert len(report.errors) <= 5
    assert report.valid == (not report.error_counts)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=8), st.sampled_from(["fine_tuning", "rl"]))
def test_never_raises_on_arbitrary_json_rows(rows: list[object], purpose: str) -> None:
    lines = [json.dumps(row).encode() + b"\n" for row in rows]
    report = validate_lines(lines, purpose=purpose,  # type: ignore[arg-type]
                            count_tokens=estimate, token_estimate=True)
    assert report.examples == sum(isinstance(row, dict) for row in rows)


def test_deeply_nested_json_is_invalid_not_a_crash() -> None:
    report = validate_lines([b"[" * 100_000 + b"]" * 100_000 + b"\n"],
                            count_tokens=estimate, token_estimate=True, min_examples=0)
    assert list(report.error_counts) in (["invalid_json"], ["not_an_object"])


def test_errors_are_capped_but_counted() -> None:
    report = validate_lines([b"oops\n"] * 50, count_tokens=estimate, token_estimate=True,
                            min_examples=0, max_issues=10)
    assert len(report.errors) == 10
    assert report.error_counts == {"invalid_json": 50}
    assert report.truncated


def test_percentiles_are_exact_nearest_rank() -> None:
    tally = TokenTally(context_length=None, estimated=False)
    for tokens in range(1, 101):
        tally.add(tokens)
    tally.add(EXACT_LIMIT * 3 + 7)  # beyond the exact range: bucketed, max stays exact
    stats = tally.stats()
    assert (stats.p50, stats.p95, stats.max, stats.total) == (
        51, 96, EXACT_LIMIT * 3 + 7, 5050 + EXACT_LIMIT * 3 + 7)


def test_no_examples_give_zero_stats() -> None:
    report = validate_lines([], count_tokens=estimate, token_estimate=True)
    assert (report.examples, report.token_stats.p95, report.detected_format) == (0, 0, "unknown")
    assert report.error_counts == {"too_few_examples": 1}


CHAT_ROW = json.dumps({"messages": [
    {"role": "system", "content": "You are a helpful assistant that answers briefly."},
    {"role": "user", "content": "What is the capital of France? " * 4},
    {"role": "assistant", "content": "Paris is the capital of France. " * 4}]}).encode() + b"\n"
BAD_ROW = b'{"messages": [{"role": "robot", "content": ""}]}\n'


def generated_file(total_bytes: int) -> Iterator[bytes]:
    """A stream of lines, one error in every hundred, never held in memory as a whole."""
    produced, number = 0, 0
    while produced < total_bytes:
        number += 1
        line = BAD_ROW if number % 100 == 0 else CHAT_ROW
        produced += len(line)
        yield line


def test_a_20_mb_stream_validates_in_constant_memory() -> None:
    size = 20 * 1024 * 1024  # five times the memory bound below: enough to show it is constant
    tracemalloc.start()
    try:
        started = time.perf_counter()
        report = validate_lines(generated_file(size), context_length=4096,
                                count_tokens=estimate, token_estimate=True,
                                plain_chat=decode_plain_chat)  # as the worker calls it
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows = size // len(CHAT_ROW)
    assert report.examples >= rows * 0.99
    assert len(report.errors) == 1000 and report.truncated
    assert report.error_counts["unknown_role"] == report.examples // 100
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    print(f"20 MB in {elapsed:.1f}s under tracemalloc, peak {peak / 1e6:.2f} MB")
