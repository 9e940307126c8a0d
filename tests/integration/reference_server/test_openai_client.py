"""The official `openai` client against a running reference server of the base model."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from infra.reference import chat
from infra.reference.model import init_params
from infra.reference.sampling import complete
from tests.integration.reference_server.conftest import MODEL, RunningServer

MESSAGES: list[Any] = [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": [{"type": "text", "text": "Hello"},
                                                    {"type": "text", "text": " there"}]}]
RENDERED = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]


def test_lists_and_retrieves_its_one_model(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [(m.id, m.object, m.owned_by) for m in models] == [(MODEL, "model", "bitstride")]
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("other")


def test_health_is_ok(base_server: RunningServer) -> None:
    response = httpx.get(f"{base_server.url}/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_chat_completion_counts_tokens_as_the_model_does(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=12,
                                          temperature=0, user="someone", extra_body={"x": 1})
    expected = complete(init_params(0), RENDERED, max_tokens=12, temperature=0)
    assert done.id.startswith("chatcmpl-")
    assert (done.object, done.model) == ("chat.completion", MODEL)
    choice = done.choices[0]
    assert (choice.index, choice.message.role) == (0, "assistant")
    assert (choice.message.content, choice.finish_reason) == (expected.text,
                                                              expected.finish_reason)
    assert done.usage is not None
    assert done.usage.prompt_tokens == len(chat.prompt_tokens(RENDERED)) == expected.prompt_tokens
    assert done.usage.completion_tokens == expected.completion_tokens
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_a_seed_makes_sampling_repeatable(client: openai.OpenAI) -> None:
    def answer(seed: int) -> str | None:
        return client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_completion_tokens=24, temperature=1.2,
            top_p=0.9, seed=seed).choices[0].message.content

    assert answer(7) == answer(7) == complete(init_params(0), RENDERED, max_tokens=24,
                                              temperature=1.2, top_p=0.9, rng=7).text
    assert answer(7) != answer(8)


def test_stop_strings_end_the_answer(client: openai.OpenAI) -> None:
    full = complete(init_params(0), RENDERED, max_tokens=40, temperature=0).text
    stop = full[5:7]
    done = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=40,
                                          temperature=0, stop=[stop, "never"])
    assert done.choices[0].message.content == full[:full.index(stop)]
    assert done.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("include_usage", [False, True])
def test_a_streamed_chat_completion_is_the_same_answer(client: openai.OpenAI,
                                                       include_usage: bool) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=32,
                                           temperature=0, seed=3)
    options: Any = {"include_usage": True} if include_usage else openai.omit
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                 max_tokens=32, temperature=0, seed=3,
                                                 stream=True, stream_options=options))
    assert len({chunk.id for chunk in chunks}) == 1
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    with_choices = [chunk for chunk in chunks if chunk.choices]
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text == plain.choices[0].message.content
    last = with_choices[-1].choices[0]
    assert (last.finish_reason, last.delta.content) == (plain.choices[0].finish_reason, None)
    assert all(c.choices[0].finish_reason is None for c in with_choices[:-1])
    if include_usage:
        assert chunks[-1].choices == []
        assert chunks[-1].usage == plain.usage
        assert all(chunk.usage is None for chunk in chunks[:-1])
    else:
        assert chunks[-1] is with_choices[-1]
        assert all(chunk.usage is None for chunk in chunks)


def test_a_text_completion_renders_the_prompt_as_raw_bytes(client: openai.OpenAI) -> None:
    done = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=16,
                                     temperature=0)
    assert done.id.startswith("cmpl-")
    assert (done.object, done.model) == ("text_completion", MODEL)
    assert done.usage is not None
    assert done.usage.prompt_tokens == len(b"Once upon a time")
    assert done.usage.completion_tokens == 16 == done.usage.total_tokens - 16
    assert done.choices[0].finish_reason == "length"
    listed = client.completions.create(model=MODEL, prompt=["Once upon a time"], max_tokens=16,
                                       temperature=0)
    assert listed.choices[0].text == done.choices[0].text


def test_a_streamed_text_completion_is_the_same_answer(client: openai.OpenAI) -> None:
    plain = client.completions.create(model=MODEL, prompt="abc", max_tokens=20, seed=5)
    chunks = list(client.completions.create(model=MODEL, prompt="abc", max_tokens=20, seed=5,
                                            stream=True, stream_options={"include_usage": True}))
    assert all(chunk.object == "text_completion" for chunk in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == plain.choices[0].text
    assert chunks[-2].choices[0].finish_reason == plain.choices[0].finish_reason
    assert (chunks[-1].choices, chunks[-1].usage) == ([], plain.usage)


def test_a_model_it_does_not_serve_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert raised.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4o", prompt="x")


@pytest.mark.parametrize(("arguments", "param"), [
    ({"temperature": 2.5}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"n": 2}, "n"),
    ({"max_tokens": 1025}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"seed": "1"}, "seed"),
    ({"logprobs": True}, "logprobs"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content[0].type"),
])
def test_a_bad_field_is_a_bad_request_naming_it(client: openai.OpenAI, arguments: dict[str, Any],
                                                param: str) -> None:
    request: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, **arguments}
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**request)
    assert raised.value.param == param
    assert raised.value.type == "invalid_request_error"


def test_embeddings_are_not_supported(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=MODEL, input="hello")
    assert "does not support embeddings" in raised.value.message


def test_malformed_requests_get_openai_errors(base_server: RunningServer) -> None:
    url = f"{base_server.url}/v1/chat/completions"
    for response, status in [
        (httpx.post(url, content=b"{not json"), 400),
        (httpx.post(url, content=b'{"model": "ref", "messages": [{"role": "user", '
                                 b'"content": "\\ud800"}]}'), 400),
        (httpx.post(url, json=["a list"]), 400),
        (httpx.post(url, json={"model": MODEL, "messages": "hi"}), 400),
        (httpx.post(url, content=b" " * (1024 * 1024 + 1)), 413),
        (httpx.get(url), 405),
        (httpx.post(f"{base_server.url}/v1/nothing", json={}), 404),
    ]:
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.post(url, json={"model": MODEL, "messages": "hi"}).json()["error"]["param"] \
        == "messages"
