"""Inference bodies as the gateway reads and rewrites them, and upstream errors in our envelope."""

from __future__ import annotations

import json

import pytest

from interfaces.http.errors import ApiError
from interfaces.http.gateway.requests import (
    CHAT_COMPLETIONS,
    COMPLETIONS,
    DEFAULT_COMPLETION_ESTIMATE,
    EMBEDDINGS,
    completion_budget,
    parse_body,
    prompt_estimate,
    upstream_body,
    upstream_error,
    usage_counts,
    usage_of_answer,
)


def test_parse_body_needs_an_object_with_a_model() -> None:
    assert parse_body(b'{"model": "m", "x": 1}') == {"model": "m", "x": 1}
    for raw, code, param in [(b"{", "invalid_json", None), (b"[]", "invalid_request", None),
                             (b"{}", "invalid_request", "model"),
                             (b'{"model": 3}', "invalid_value", "model")]:
        with pytest.raises(ApiError) as error:
            parse_body(raw)
        assert (error.value.status, error.value.code, error.value.param) == (400, code, param)


def test_the_upstream_body_names_the_served_model_and_always_asks_usage() -> None:
    payload, wants = upstream_body({"model": "model_x", "stream": True, "n": 1}, "served")
    assert json.loads(payload) == {"model": "served", "stream": True, "n": 1,
                                   "stream_options": {"include_usage": True}}
    assert wants is False
    payload, wants = upstream_body({"model": "m", "stream": True,
                                    "stream_options": {"include_usage": True, "x": 1}}, "s")
    assert json.loads(payload)["stream_options"] == {"include_usage": True, "x": 1}
    assert wants is True
    payload, wants = upstream_body({"model": "m", "messages": []}, "s")
    assert json.loads(payload) == {"model": "s", "messages": []} and wants is False


def test_estimates_follow_the_validator() -> None:
    chat = {"messages": [{"role": "user", "content": "12345678"},
                         {"role": "user", "content": [{"type": "text", "text": "1234"}]}]}
    assert prompt_estimate(CHAT_COMPLETIONS, chat) == (2 + 3) + (1 + 3) + 3
    assert prompt_estimate(COMPLETIONS, {"prompt": "12345"}) == 2
    assert prompt_estimate(COMPLETIONS, {"prompt": ["1234", "12345678"]}) == 3
    assert prompt_estimate(EMBEDDINGS, {"input": [1, 2, 3]}) == 3
    assert prompt_estimate(EMBEDDINGS, {"input": [[1, 2], [3]]}) == 3
    assert prompt_estimate(CHAT_COMPLETIONS, {"messages": "nope"}) == 0
    assert completion_budget(CHAT_COMPLETIONS, {"max_tokens": 9}) == 9
    assert completion_budget(CHAT_COMPLETIONS, {"max_completion_tokens": 5,
                                                "max_tokens": 9}) == 5
    assert completion_budget(COMPLETIONS, {}) == DEFAULT_COMPLETION_ESTIMATE
    assert completion_budget(EMBEDDINGS, {"max_tokens": 9}) == 0


def test_usage_counts() -> None:
    assert usage_counts({"prompt_tokens": 3, "completion_tokens": 2}) == (3, 2)
    assert usage_counts({"prompt_tokens": 3, "total_tokens": 3}) == (3, 0)  # embeddings
    assert usage_counts(None) is None
    assert usage_counts({"prompt_tokens": -1}) is None
    assert usage_of_answer(b'{"usage": {"prompt_tokens": 1, "completion_tokens": 1}}') == (1, 1)
    assert usage_of_answer(b"not json") is None


def test_upstream_errors_in_the_envelope() -> None:
    body = json.dumps({"error": {"message": "no embeddings", "type": "invalid_request_error",
                                 "param": "model", "code": "unsupported_model"}}).encode()
    error = upstream_error(400, body)
    assert (error.status, error.code, error.message, error.param) == (
        400, "unsupported_model", "no embeddings", "model")
    plain = upstream_error(404, b"Not Found")
    assert (plain.status, plain.code, plain.message) == (404, "not_found", "Not Found")
    limited = upstream_error(429, b"{}", retry_after="3")
    assert (limited.code, limited.headers) == ("rate_limited", {"Retry-After": "3"})
    crashed = upstream_error(500, body)
    assert (crashed.status, crashed.code) == (502, "upstream_error")
    assert "no embeddings" in crashed.message
