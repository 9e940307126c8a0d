"""Rules for one row of each format, and the token length of an example."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain.datasets.validation import codes
from domain.datasets.validation.formats import CHAT, PREFERENCE, PROMPT
from domain.datasets.validation.messages import (
    check_keys,
    check_messages,
    message_text,
    messages_list,
    role_of,
)
from domain.datasets.validation.paths import ROOT, key
from domain.datasets.validation.report import Finding

CHAT_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls", "metadata"})
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output", "metadata"})
INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
NOT_FOR_GRADERS = frozenset({"messages", "tools", "functions", "parallel_tool_calls", "metadata"})
OUTPUTS = ("preferred_output", "non_preferred_output")
# OpenAI's cookbook estimate of chat templating: 3 tokens per message, 3 to prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


def _learns_something(message: Mapping[str, Any]) -> bool:
    return role_of(message) == "assistant" and message.get("weight", 1) != 0


def check_chat(row: Mapping[str, Any]) -> list[Finding]:
    findings = check_keys(row, ROOT, CHAT_KEYS)
    path = key(ROOT, "messages")
    messages = messages_list(row, "messages", path, findings)
    if messages is None:
        return findings
    findings += check_messages(messages, path)
    if not any(isinstance(m, dict) and _learns_something(m) for m in messages):
        findings.append(Finding(codes.NO_ASSISTANT_MESSAGE, path,
                                "No assistant message with weight 1 to learn from."))
    return findings


def check_prompt(row: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    path = key(ROOT, "messages")
    messages = messages_list(row, "messages", path, findings)
    if messages is not None:
        findings += check_messages(messages, path)
        roles = [role_of(m) for m in messages if isinstance(m, dict)]
        if "user" not in roles:
            findings.append(Finding(codes.MISSING_PROMPT, path,
                                    "An RL prompt needs at least one user message."))
        if roles and roles[-1] == "assistant":
            findings.append(Finding(
                codes.INVALID_ROLE_ORDER, key(f"{path}[{len(messages) - 1}]", "role"),
                "An RL prompt must not end with an assistant message: the model writes it."))
    if NOT_FOR_GRADERS.issuperset(row):
        findings.append(Finding(codes.GRADER_FIELDS, ROOT,
                                "No field besides the messages for graders to read as item.*."))
    return findings


def _check_output(row: Mapping[str, Any], name: str) -> list[Finding]:
    path = key(ROOT, name)
    output = row.get(name)
    if not isinstance(output, list) or len(output) != 1:
        return [Finding(codes.INCOMPLETE_PREFERENCE_PAIR, path,
                        f"{name!r} must be a list of exactly one assistant message.")]
    findings = check_messages(output, path, ordered=False)
    if isinstance(output[0], dict) and role_of(output[0]) not in (None, "assistant"):
        findings.append(Finding(codes.INCOMPLETE_PREFERENCE_PAIR, key(f"{path}[0]", "role"),
                                f"The message in {name!r} must be from the assistant."))
    return findings


def check_preference(row: Mapping[str, Any]) -> list[Finding]:
    findings = check_keys(row, ROOT, PREFERENCE_KEYS)
    prompt = row.get("input")
    if prompt is not None and not isinstance(prompt, dict):
        findings.append(Finding(codes.NOT_AN_OBJECT, key(ROOT, "input"),
                                "'input' must be an object holding the messages."))
    else:
        prompt = prompt or {}
        input_path = key(ROOT, "input")
        findings += check_keys(prompt, input_path, INPUT_KEYS)
        path = key(input_path, "messages")
        messages = messages_list(prompt, "messages", path, findings)
        if messages is not None:
            findings += check_messages(messages, path)
    for name in OUTPUTS:
        findings += _check_output(row, name)
    return findings


RULES: dict[str, Callable[[Mapping[str, Any]], list[Finding]]] = {
    CHAT: check_chat, PROMPT: check_prompt, PREFERENCE: check_preference,
}


def _list_at(container: object, *names: str) -> list[Any]:
    for name in names:
        container = container.get(name) if isinstance(container, dict) else None
    return container if isinstance(container, list) else []


def _tokens(texts: Sequence[str], count: Callable[[str], int]) -> int:
    return sum(map(count, texts)) + TOKENS_PER_MESSAGE * len(texts)


def _message_tokens(messages: list[Any], count: Callable[[str], int]) -> int:
    return _tokens([message_text(m) for m in messages if isinstance(m, dict)], count)


def conversation_tokens(texts: Sequence[str], count: Callable[[str], int]) -> int:
    """A conversation's length, from the text of each of its messages."""
    return _tokens(texts, count) + TOKENS_PER_REPLY


def example_tokens(row: Mapping[str, Any], fmt: str, count: Callable[[str], int]) -> int:
    """Prompt plus the longer answer for a pair; the whole conversation otherwise."""
    if fmt == PREFERENCE:
        answers = max(_message_tokens(_list_at(row, name), count) for name in OUTPUTS)
        prompt = _message_tokens(_list_at(row, "input", "messages"), count)
        return prompt + answers + TOKENS_PER_REPLY
    return _message_tokens(_list_at(row, "messages"), count) + TOKENS_PER_REPLY
