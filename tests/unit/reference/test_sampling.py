"""Generation: greedy and seeded sampling, stop strings, lengths and broken UTF-8."""

from __future__ import annotations

import numpy as np

from infra.reference.model import EOS, Params, init_params
from infra.reference.sampling import choose, complete, generate

ASK = [{"role": "user", "content": "Say something."}]


def parrot(token: int) -> Params:
    """The base model biased so hard towards `token` that it says nothing else."""
    params = init_params(0)
    params.b2[token] += 50.0
    return params


def test_greedy_takes_the_most_likely_token_until_the_length_runs_out() -> None:
    result = complete(parrot(ord("a")), ASK, max_tokens=5, temperature=0)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("aaaaa", 5, "length")
    assert result.prompt_tokens == len("<|user|>\nSay something.") + 1 + len("<|assistant|>\n")


def test_eos_stops_and_counts_as_a_completion_token() -> None:
    result = complete(parrot(EOS), ASK, max_tokens=5, temperature=0)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 1, "stop")


def test_the_same_seed_samples_the_same_answer() -> None:
    params = init_params(0)
    first = complete(params, ASK, max_tokens=20, rng=11)
    assert complete(params, ASK, max_tokens=20, rng=11) == first
    assert complete(params, ASK, max_tokens=20, rng=12) != first


def test_a_stop_string_ends_the_answer_and_is_not_returned() -> None:
    result = complete(parrot(ord("a")), ASK, max_tokens=10, temperature=0, stop=["aaa"])
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 3, "stop")


def test_text_that_may_start_a_stop_string_is_held_back_then_released() -> None:
    tokens = list(generate(parrot(ord("a")), ASK, max_tokens=3, temperature=0, stop=["ab"]))
    assert [token.text for token in tokens] == ["", "a", "aa"]
    assert [token.finish_reason for token in tokens] == [None, None, "length"]


def test_partial_utf8_decodes_with_replacement_characters() -> None:
    lead_byte = 0xC3  # starts a two-byte character that never gets its second byte
    result = complete(parrot(lead_byte), ASK, max_tokens=3, temperature=0)
    assert result.text == "\ufffd" * 3


def test_top_p_keeps_only_the_most_likely_tokens() -> None:
    logprobs = np.log(np.array([0.1, 0.6, 0.3]))
    rng = np.random.default_rng(0)
    assert {choose(logprobs, 1.0, 0.5, rng) for _ in range(50)} == {1}
    assert {choose(logprobs, 1.0, 0.8, rng) for _ in range(50)} == {1, 2}
    assert {choose(logprobs, 1.0, 1.0, rng) for _ in range(200)} == {0, 1, 2}
    assert choose(logprobs, 0.0, 1.0, rng) == 1
