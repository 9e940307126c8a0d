"""The text_similarity metrics, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from infra.reference.trainer.similarity import METRICS


@pytest.mark.parametrize(("metric", "candidate", "reference", "score"), [
    ("rouge_1", "a b c d", "a b e f", 0.5),
    ("rouge_1", "a a a", "a", 0.5),  # a repeated match counts once per reference occurrence
    ("rouge_2", "a b c d", "a b e f", 1 / 3),
    ("rouge_l", "a b c d", "a c d e", 0.75),
    ("meteor", "a b", "a b c d", 10 * 1 * 0.5 / (0.5 + 9 * 1)),
    ("gleu", "a b c d", "a b e f", 3 / 10),
    ("bleu", "a b c d", "a b e f", (1 / 2 * 2 / 4 * 1 / 3 * 1 / 2) ** (1 / 4)),
    ("bleu", "a b", "a b c d", math.exp(1 - 4 / 2)),  # perfect precision, too short
    ("fuzzy_match", "abcd", "abce", 0.75),
    ("rouge_1", "", "a", 0.0),
])
def test_metric_values(metric: str, candidate: str, reference: str, score: float) -> None:
    assert METRICS[metric](candidate, reference) == pytest.approx(score)
