"""Chat messages as the reference model's tokens, the same way for training and serving.

Every message is its role marker, its content's UTF-8 bytes and EOS:
`<|user|>\\nHello<EOS><|assistant|>\\nHi!<EOS>`. A prompt is the conversation so far followed
by the assistant marker, so what the model learns to write after it, an assistant message's
target, is that message's content and EOS. Only text is rendered: the reference model reads
no images, and tool calls are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.reference.model import EOS

Message = Mapping[str, Any]


def content_text(content: object) -> str:
    """A message's text: a string, or the text parts of an OpenAI-style list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content
                       if isinstance(part, Mapping) and part.get("type") == "text")
    if content is None:
        return ""
    raise TypeError("A message's content must be a string or a list of content parts.")


def marker_tokens(role: str) -> list[int]:
    return list(f"<|{role}|>\n".encode())


def target_tokens(content: object) -> list[int]:
    """What the model writes for a message: the content's bytes, then EOS."""
    return [*content_text(content).encode(), EOS]


def message_tokens(message: Message) -> list[int]:
    return marker_tokens(message["role"]) + target_tokens(message.get("content"))


def prompt_tokens(messages: Sequence[Message]) -> list[int]:
    """The conversation, then the assistant marker: where the model writes its answer."""
    return [token for message in messages for token in message_tokens(message)] \
        + marker_tokens("assistant")
