"""Chat rendering: what training learns is laid out exactly as serving prompts it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.reference import chat
from infra.reference.model import EOS
from infra.reference.trainer import data

TEXT = st.text(max_size=40)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "tool"]),
                                 "content": TEXT})


@given(history=st.lists(MESSAGE, max_size=4), answer=TEXT)
def test_an_answer_is_learned_in_the_layout_it_is_served_in(
        history: list[dict[str, Any]], answer: str) -> None:
    assistant = {"role": "assistant", "content": answer}
    unlearned = {**assistant, "weight": 0}
    learned = data.chat_sequence({"messages": [*history, unlearned, assistant]})
    target = chat.target_tokens(answer)
    expected = chat.prompt_tokens([*history, unlearned]) + target
    assert learned.tokens == tuple(expected[-data.MAX_TOKENS:])
    assert learned.tokens[-len(target):] == tuple(target)
    assert sum(learned.mask) == min(len(target), data.MAX_TOKENS)


@given(TEXT)
def test_a_target_is_the_contents_bytes_then_eos(text: str) -> None:
    target = chat.target_tokens(text)
    assert target[-1] == EOS
    assert bytes(target[:-1]).decode() == text


@given(st.lists(TEXT, max_size=3))
def test_text_parts_read_as_their_joined_text(parts: list[str]) -> None:
    content: list[dict[str, Any]] = [{"type": "text", "text": part} for part in parts]
    content.append({"type": "image_url", "image_url": {"url": "https://example.com/x.png"}})
    assert chat.content_text(content) == "".join(parts)


def test_a_prompt_ends_with_the_assistant_marker() -> None:
    prompt = chat.prompt_tokens([{"role": "user", "content": "Hi"}])
    assert bytes(t for t in prompt if t != EOS) == b"<|user|>\nHi<|assistant|>\n"
    assert prompt.count(EOS) == 1


def test_content_must_be_text_or_parts() -> None:
    assert chat.content_text(None) == ""
    with pytest.raises(TypeError):
        chat.content_text(42)
