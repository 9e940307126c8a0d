"""Rules for a list of chat messages: shape, roles, role order, content, weights, keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.datasets.validation import codes
from domain.datasets.validation.paths import index, key
from domain.datasets.validation.report import Finding

ROLES = ("system", "developer", "user", "assistant", "tool")
LEADING_ROLES = frozenset({"system", "developer"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id",
                          "function_call", "refusal"})
CALL_KEYS = ("tool_calls", "function_call")  # an assistant making a call may omit its content


def messages_list(container: Mapping[str, Any], field: str, path: str,
                  findings: list[Finding]) -> list[Any] | None:
    """The non-empty list under `field`, or None after saying what is wrong with it."""
    if field not in container:
        findings.append(Finding(codes.MISSING_MESSAGES, path, f"Missing the {field!r} list."))
        return None
    value = container[field]
    if not isinstance(value, list):
        findings.append(Finding(codes.MESSAGES_NOT_A_LIST, path,
                                f"{field!r} must be a list of messages."))
        return None
    if not value:
        findings.append(Finding(codes.EMPTY_MESSAGES, path, f"{field!r} is empty."))
        return None
    return value


def role_of(message: Mapping[str, Any]) -> str | None:
    role = message.get("role")
    return role if isinstance(role, str) and role in ROLES else None


def check_role(message: Mapping[str, Any], path: str) -> list[Finding]:
    if role_of(message) is not None:
        return []
    role = message.get("role")
    said = "Missing role" if role is None else f"Unknown role {role!r}"
    return [Finding(codes.UNKNOWN_ROLE, key(path, "role"),
                    f"{said}; expected one of {', '.join(ROLES)}.")]


def _has_text(content: object) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return isinstance(content, list) and bool(content)


def check_content(message: Mapping[str, Any], path: str) -> list[Finding]:
    content = message.get("content")
    if _has_text(content):
        return []
    if content is None and role_of(message) == "assistant" and any(
            message.get(k) for k in CALL_KEYS):
        return []
    if content is not None and not isinstance(content, str | list):
        why = "must be a string or a list of content parts"
    else:
        why = "is missing or empty"
    return [Finding(codes.MISSING_CONTENT, key(path, "content"), f"The content {why}.")]


def check_weight(message: Mapping[str, Any], path: str) -> list[Finding]:
    if "weight" not in message:
        return []
    weight = message["weight"]
    where = key(path, "weight")
    if role_of(message) != "assistant":
        return [Finding(codes.INVALID_WEIGHT, where, "Only assistant messages take a weight.")]
    if isinstance(weight, bool) or weight not in (0, 1) or not isinstance(weight, int):
        return [Finding(codes.INVALID_WEIGHT, where, "The weight must be the integer 0 or 1.")]
    return []


def check_keys(message: Mapping[str, Any], path: str, allowed: frozenset[str]) -> list[Finding]:
    return [Finding(codes.UNKNOWN_KEY, key(path, name), f"Unknown key {name!r}; it is ignored.")
            for name in message if name not in allowed]


def check_message(message: Mapping[str, Any], path: str) -> list[Finding]:
    return [*check_role(message, path), *check_content(message, path),
            *check_weight(message, path), *check_keys(message, path, MESSAGE_KEYS)]


def _order_problem(role: str, position: int, previous: str | None) -> str | None:
    """`previous` is the last user, assistant or tool role (None before the first)."""
    if role in LEADING_ROLES:
        return None if position == 0 else f"A {role} message may only come first."
    if previous is None:
        return None if role == "user" else \
            "The first message (after any system prompt) must be from the user."
    if role == "tool" and previous not in ("assistant", "tool"):
        return "A tool message must follow an assistant message or another tool message."
    return None


def check_role_order(messages: list[Any], path: str) -> list[Finding]:
    """System/developer only first; then a user turn; tool after assistant; repeats allowed."""
    findings, previous = [], None
    after_unknown = False  # a bad message is reported once, not again in the next one's order
    for i, message in enumerate(messages):
        role = role_of(message) if isinstance(message, dict) else None
        if role is None:
            after_unknown = True
            continue
        problem = _order_problem(role, i, previous)
        if after_unknown and role not in LEADING_ROLES:
            problem = None
        after_unknown = False
        if problem:
            findings.append(Finding(codes.INVALID_ROLE_ORDER, key(index(path, i), "role"),
                                    problem))
        if role not in LEADING_ROLES:
            previous = role
    return findings


def check_messages(messages: list[Any], path: str, *, ordered: bool = True) -> list[Finding]:
    """Every per-message rule, and the role order unless the list is a lone answer."""
    findings: list[Finding] = []
    for i, message in enumerate(messages):
        if isinstance(message, dict):
            findings.extend(check_message(message, index(path, i)))
        else:
            findings.append(Finding(codes.NOT_AN_OBJECT, index(path, i),
                                    "Each message must be a JSON object."))
    return findings + check_role_order(messages, path) if ordered else findings


def message_text(message: Mapping[str, Any]) -> str:
    """The text a tokenizer would see for a message's content and calls."""
    content = message.get("content")
    parts = [content] if isinstance(content, str) else []
    if isinstance(content, list):
        parts += [p["text"] for p in content if isinstance(p, dict) and isinstance(
            p.get("text"), str)]
    for call_key in CALL_KEYS:
        if message.get(call_key):
            parts.append(str(message[call_key]))
    return "\n".join(parts)
