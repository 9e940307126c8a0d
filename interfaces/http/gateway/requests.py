"""Inference request bodies as the gateway sees them: pure functions, no I/O.

The gateway reads only what it needs (`model`, `stream`, `stream_options`, the prompt for an
estimate, `max_tokens`) and leaves every other field to the upstream, which validates them and
answers OpenAI's errors itself. Estimates use the dataset validator's rule
(infra/tokenizers.py: about 4 UTF-8 bytes a token, plus 3 tokens a message and 3 for the
reply): they feed the rate limiter's admission, and metering only when an upstream's usage
never arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from domain.datasets.validation.formats import CHAT
from domain.datasets.validation.rows import example_tokens
from infra.tokenizers import token_counter_for
from interfaces.http.bounded_request import NESTED_TOO_DEEPLY
from interfaces.http.errors import ApiError

# Tokens a request may generate when it names no `max_tokens`, for the rate limiter's
# admission estimate (settled to the real count afterwards).
DEFAULT_COMPLETION_ESTIMATE = 256

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Endpoint:
    """One inference route: its upstream path and what it produces."""

    name: str  # "chat.completions", "completions", "embeddings"
    path: str  # under the replica's OpenAI base URL
    generates: bool  # embeddings generate no tokens


CHAT_COMPLETIONS = Endpoint("chat.completions", "/chat/completions", generates=True)
COMPLETIONS = Endpoint("completions", "/completions", generates=True)
EMBEDDINGS = Endpoint("embeddings", "/embeddings", generates=False)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object naming a `model`, or a 400 in the envelope."""
    try:
        body = _decode(raw)
    except msgspec.DecodeError as error:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {error}.") \
            from None
    except RecursionError:  # msgspec's nesting limit
        raise ApiError(400, "invalid_json", "The request body is not valid JSON: "
                       f"{NESTED_TOO_DEEPLY}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise ApiError(400, "invalid_request", "You must provide a model parameter.",
                       param="model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "invalid_value", "'model' must be a model's name or id.",
                       param="model")
    return body


def is_stream(body: dict[str, Any]) -> bool:
    return body.get("stream") is True


def prompt_estimate(endpoint: Endpoint, body: dict[str, Any],
                    count: Callable[[str], int] | None = None) -> int:
    """Estimated input tokens of the request's prompt (0 when there is none to read)."""
    count = count or token_counter_for(None).count
    if endpoint is CHAT_COMPLETIONS:
        messages = body.get("messages")
        if not isinstance(messages, list):
            return 0
        return example_tokens({"messages": messages}, CHAT, count)
    field = "prompt" if endpoint is COMPLETIONS else "input"
    return _text_tokens(body.get(field), count)


def _text_tokens(value: object, count: Callable[[str], int]) -> int:
    """A string, a list of strings, or token ids (a list of ints, or a list of such lists)."""
    if isinstance(value, str):
        return count(value)
    if isinstance(value, list):
        if value and all(isinstance(item, int) for item in value):
            return len(value)
        return sum(_text_tokens(item, count) for item in value)
    return 0


def completion_budget(endpoint: Endpoint, body: dict[str, Any]) -> int:
    """The most tokens the request may generate, as it says, or the default estimate."""
    if not endpoint.generates:
        return 0
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_COMPLETION_ESTIMATE


def upstream_body(body: dict[str, Any], served_name: str) -> tuple[bytes, bool]:
    """The body to forward: `model` is the name the replicas serve, and a stream always asks
    for usage. Returns it encoded, and whether the client asked for usage itself."""
    forwarded = dict(body)
    forwarded["model"] = served_name
    wants_usage = False
    if is_stream(body):
        options = body.get("stream_options")
        if options is None or isinstance(options, dict):
            options = dict(options or {})
            wants_usage = options.get("include_usage") is True
            options["include_usage"] = True
            forwarded["stream_options"] = options
        # anything else is invalid: forwarded as it is, for the upstream to refuse
    return _encode(forwarded), wants_usage


def usage_counts(usage: object) -> tuple[int, int] | None:
    """(input, output) tokens from an OpenAI `usage` object, or None if it has none."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens", 0)
    if not _count(prompt) or not _count(completion):
        return None
    return int(prompt), int(completion)  # type: ignore[arg-type]


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def usage_of_answer(content: bytes) -> tuple[int, int] | None:
    """The usage of a whole (not streamed) answer."""
    try:
        answer = _decode(content)
    except msgspec.DecodeError:
        return None
    return usage_counts(answer.get("usage")) if isinstance(answer, dict) else None


_CODE_BY_STATUS = {400: "invalid_request", 401: "upstream_unauthorized", 403: "permission_denied",
                   404: "not_found", 408: "upstream_timeout", 413: "request_too_large",
                   422: "invalid_request", 429: "rate_limited"}
MAX_MESSAGE = 1000


def upstream_error(status: int, content: bytes, retry_after: str | None = None) -> ApiError:
    """An upstream's error answer in our envelope.

    A 4xx keeps its status, and its code, message and param when it is in OpenAI's shape
    (`{"error": {"message", "type", "param", "code"}}`). A 5xx (after failing over, or once
    nothing else could be tried) is 502 `upstream_error`: a 500 from us would mean our own
    fault."""
    detail: dict[str, Any] = {}
    try:
        decoded = _decode(content)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        detail = decoded["error"]
    message = detail.get("message") if isinstance(detail.get("message"), str) else None
    if message is None:
        message = content.decode("utf-8", "replace").strip() or f"HTTP {status}"
    message = message[:MAX_MESSAGE]
    if status >= 500:
        return ApiError(502, "upstream_error",
                        f"The model's server failed (HTTP {status}): {message}")
    code = detail.get("code") if isinstance(detail.get("code"), str) and detail.get("code") \
        else _CODE_BY_STATUS.get(status, "upstream_error")
    param = detail.get("param") if isinstance(detail.get("param"), str) else None
    headers = {"Retry-After": retry_after} if retry_after and status == 429 else None
    return ApiError(status, code, message, param=param, headers=headers)
