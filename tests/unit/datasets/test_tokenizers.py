"""The offline token estimate: labelled as an estimate, ceil(UTF-8 bytes / 4)."""

from __future__ import annotations

from application.datasets.ports import TokenCounter
from infra.tokenizers import ByteEstimateCounter, token_counter_for


def test_estimate_is_bytes_over_four_rounded_up() -> None:
    counter = ByteEstimateCounter()
    assert [counter.count(t) for t in ["", "a", "abcd", "abcde", "é"]] == [0, 1, 1, 2, 1]


def test_every_tokenizer_gets_a_labelled_estimate_offline() -> None:
    counter: TokenCounter = token_counter_for("cl100k_base")
    assert counter.estimated is True
    assert counter.name == "estimate-bytes-per-4"
