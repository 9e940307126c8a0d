"""The server's pure parts, in process: request parsing and raw-prompt generation."""

from __future__ import annotations

from typing import Any

import pytest

from infra.reference.model import init_params
from infra.reference.sampling import generate_from
from infra.reference.server import protocol
from infra.reference.server.protocol import ApiError
from infra.reference.server.streaming import pull

USER = [{"role": "user", "content": "hi"}]


def parse(**fields: Any) -> protocol.ChatRequest:
    return protocol.parse_chat({"model": "ref", "messages": USER, **fields}, "ref")


def test_defaults_and_nulls_mean_not_given() -> None:
    nulls = {name: None for name in ("max_tokens", "temperature", "top_p", "n", "stop", "seed",
                                     "stream", "stream_options", "logprobs", "tools")}
    for request in (parse(), parse(**nulls)):
        assert request.sampling == protocol.Sampling(64, 1.0, 1.0, (), None)
        assert (request.stream, request.include_usage) == (False, False)


def test_fields_are_read_like_openai() -> None:
    request = parse(max_tokens=5, max_completion_tokens=9, temperature=0, top_p=0.5, stop="x",
                    seed=-1, stream=True, stream_options={"include_usage": True},
                    user="u", whatever={"ignored": True})
    assert request.sampling == protocol.Sampling(9, 0.0, 0.5, ("x",), 2 ** 64 - 1)
    assert (request.stream, request.include_usage) == (True, True)
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert parse(messages=[{"role": "developer", "content": parts, "name": "n"},
                           {"role": "assistant", "content": None}]).messages == (
        {"role": "developer", "content": "ab"}, {"role": "assistant", "content": ""})


@pytest.mark.parametrize(("fields", "param"), [
    ({"temperature": True}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"max_tokens": 2.0}, "max_tokens"),
    ({"stream": "yes"}, "stream"),
    ({"stream": True, "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
    ({"stop": [1]}, "stop"),
    ({"messages": [{"content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"model": None}, "model"),
    ({"messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content"),
    ({"stop": ["a", "\udfff"]}, "stop[1]"),
])
def test_bad_fields_are_named(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse(**fields)
    assert (raised.value.status, raised.value.param) == (400, param)
    assert set(raised.value.body()["error"]) == {"message", "type", "param", "code"}


def test_a_completion_prompt_is_one_string() -> None:
    assert protocol.parse_completion({"model": "ref", "prompt": ["p"]}, "ref").prompt == "p"
    for prompt in (["a", "b"], [1, 2], None, "\ud800"):
        with pytest.raises(ApiError) as raised:
            protocol.parse_completion({"model": "ref", "prompt": prompt}, "ref")
        assert raised.value.param == "prompt"
    with pytest.raises(ApiError) as raised:
        protocol.parse_completion({"model": "ref", "prompt": "p", "echo": True}, "ref")
    assert raised.value.param == "echo"


def test_bad_json_and_other_models() -> None:
    for raw in (b"{", b"[]", b"\xff", b"[" * 100_000):
        with pytest.raises(ApiError) as raised:
            protocol.parse_json(raw)
        assert raised.value.status == 400
    with pytest.raises(ApiError) as raised:
        protocol.check_model({"model": "other"}, "ref")
    assert (raised.value.status, raised.value.code) == (404, "model_not_found")


def test_pull_takes_one_token_first_and_stops_at_the_end() -> None:
    tokens = generate_from(init_params(0), list(b"abc"), max_tokens=50, temperature=0)
    assert len(pull(tokens, 0.0)) == 1
    rest = pull(tokens, 60.0)
    assert len(rest) == 49
    assert rest[-1].finish_reason == "length"
    assert pull(tokens, 60.0) == []
