"""OpenAI's request and response shapes for the reference server, as small pure functions.

Parsing turns a decoded JSON body into a request dataclass or raises `ApiError`, whose
`body()` is OpenAI's error shape `{"error": {"message", "type", "param", "code"}}`. Like
OpenAI, unknown fields are ignored and an explicit `null` means "not given". Known options
that would change what the answer means or how it is shaped, and that the reference model
cannot honour (log-probs, tools, JSON output, echo...), are rejected rather than ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_TOKENS = 64
MAX_TOKENS_CAP = 1024
MAX_STOP_SEQUENCES = 4
ROLES = ("system", "developer", "user", "assistant")
SEED_MODULUS = 2 ** 64  # numpy seeds are non-negative; OpenAI's are any integer

Body = Mapping[str, Any]


class ApiError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.error_type = error_type or error_type_of(status)

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.error_type, param=self.param, code=self.code)


def error_type_of(status: int) -> str:
    return "invalid_request_error" if status < 500 else "server_error"


def error_body(message: str, error_type: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


# Requests


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    seed: int | None  # already reduced to numpy's range

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments for `sampling.generate` and `sampling.generate_from`."""
        return {"max_tokens": self.max_tokens, "temperature": self.temperature,
                "top_p": self.top_p, "stop": self.stop, "rng": self.seed}


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, str], ...]  # {"role", "content"}: content reduced to its text
    sampling: Sampling
    stream: bool
    include_usage: bool


@dataclass(frozen=True)
class CompletionRequest:
    prompt: str
    sampling: Sampling
    stream: bool
    include_usage: bool


def parse_json(raw: bytes) -> Body:
    """The request body as a JSON object."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ApiError(400, "We could not parse the JSON body of your request: "
                            f"{error}. The body must be a JSON object.",
                       code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def check_model(body: Body, served: str) -> None:
    """404 unless the request names the model this server serves."""
    model = body.get("model")
    if model is None:
        raise invalid("model", "You must provide a model parameter.",
                      "missing_required_parameter")
    if not isinstance(model, str):
        raise _wrong_type("model", "a string", model)
    if model != served:
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access "
                            f"to it. This server serves `{served}`.",
                       param="model", code="model_not_found")


def parse_chat(body: Body, served: str) -> ChatRequest:
    check_model(body, served)
    _reject_unsupported(body, CHAT_UNSUPPORTED)
    messages = body.get("messages")
    if messages is None:
        raise invalid("messages", "Missing required parameter: 'messages'.",
                      "missing_required_parameter")
    if not isinstance(messages, list):
        raise _wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid("messages", "Invalid 'messages': empty array. Expected an array with "
                                  "minimum length 1, but got an empty array instead.",
                      "empty_array")
    parsed = tuple(_message(message, f"messages[{index}]")
                   for index, message in enumerate(messages))
    stream, include_usage = _streaming(body)
    return ChatRequest(parsed, _sampling(body, "max_completion_tokens"), stream, include_usage)


def parse_completion(body: Body, served: str) -> CompletionRequest:
    check_model(body, served)
    _reject_unsupported(body, COMPLETION_UNSUPPORTED)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if prompt is None:
        raise invalid("prompt", "Missing required parameter: 'prompt'.",
                      "missing_required_parameter")
    if not isinstance(prompt, str):
        raise invalid("prompt", "'prompt' must be a string or an array of one string: the "
                                "reference server completes one text prompt per request.",
                      "invalid_type")
    _check_utf8(prompt, "prompt")
    stream, include_usage = _streaming(body)
    return CompletionRequest(prompt, _sampling(body), stream, include_usage)


def _message(message: object, where: str) -> dict[str, str]:
    if not isinstance(message, dict):
        raise _wrong_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise invalid(f"{where}.role", f"Missing required parameter: '{where}.role'.",
                      "missing_required_parameter")
    if role not in ROLES:
        raise invalid(f"{where}.role", f"Invalid value for '{where}.role': {role!r}. The "
                                       f"reference model reads {', '.join(ROLES)} messages.",
                      "unsupported_value")
    content = message.get("content")
    if content is None and role != "assistant":
        raise invalid(f"{where}.content", f"Missing required parameter: '{where}.content'.",
                      "missing_required_parameter")
    return {"role": role, "content": _content_text(content, f"{where}.content")}


def _content_text(content: object, where: str) -> str:
    """A string, or the text of a list of `{"type": "text", "text": ...}` parts."""
    if content is None or isinstance(content, str):
        return _check_utf8(content or "", where)
    if not isinstance(content, list):
        raise _wrong_type(where, "a string or an array of content parts", content)
    texts = []
    for index, part in enumerate(content):
        here = f"{where}[{index}]"
        if not isinstance(part, dict):
            raise _wrong_type(here, "an object", part)
        if part.get("type") != "text":
            raise invalid(f"{here}.type", f"Invalid value for '{here}.type': "
                                          f"{part.get('type')!r}. The reference model reads "
                                          "only text parts.", "unsupported_value")
        text = part.get("text")
        if not isinstance(text, str):
            raise _wrong_type(f"{here}.text", "a string", text)
        texts.append(_check_utf8(text, f"{here}.text"))
    return "".join(texts)


def _check_utf8(text: str, where: str) -> str:
    """The text, if it has UTF-8 bytes: JSON escapes can make lone surrogates, which don't."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise invalid(where, f"Invalid '{where}': the text has a lone surrogate (an unpaired "
                             "\\uD800-\\uDFFF escape), which is not valid Unicode.") from None
    return text


def _streaming(body: Body) -> tuple[bool, bool]:
    """`stream`, and `stream_options.include_usage` (only allowed when streaming)."""
    stream = _boolean(body, "stream")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not stream:
        raise invalid("stream_options", "The 'stream_options' parameter is only allowed when "
                                        "'stream' is enabled.")
    if not isinstance(options, dict):
        raise _wrong_type("stream_options", "an object", options)
    return stream, _boolean(options, "include_usage", where="stream_options.include_usage")


def _sampling(body: Body, preferred_max: str | None = None) -> Sampling:
    n = _integer(body, "n", default=1)
    if n != 1:
        raise invalid("n", f"Invalid value for 'n': {n}. The reference server generates one "
                           "choice per request (n=1).", "unsupported_value")
    max_name = (preferred_max if preferred_max and body.get(preferred_max) is not None
                else "max_tokens")
    max_tokens = _integer(body, max_name, default=DEFAULT_MAX_TOKENS, minimum=1)
    if max_tokens > MAX_TOKENS_CAP:
        raise invalid(max_name, f"{max_name} is too large: {max_tokens}. This model supports "
                                f"at most {MAX_TOKENS_CAP} completion tokens.")
    temperature = _number(body, "temperature", default=1.0, minimum=0.0, maximum=2.0)
    top_p = _number(body, "top_p", default=1.0, minimum=0.0, maximum=1.0)
    if top_p == 0:
        raise invalid("top_p", "Invalid 'top_p': expected a value above 0, but got 0 instead.",
                      "decimal_below_min_value")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise _wrong_type("seed", "an integer", seed)
    return Sampling(max_tokens, temperature, top_p, _stop(body.get("stop")),
                    None if seed is None else seed % SEED_MODULUS)


def _stop(stop: object) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (_check_utf8(stop, "stop"),)
    if not isinstance(stop, list) or not all(isinstance(text, str) for text in stop):
        raise _wrong_type("stop", "a string or an array of strings", stop)
    for index, text in enumerate(stop):
        _check_utf8(text, f"stop[{index}]")
    if len(stop) > MAX_STOP_SEQUENCES:
        raise invalid("stop", f"Invalid 'stop': array too long. Expected an array with maximum "
                              f"length {MAX_STOP_SEQUENCES}, but got an array with length "
                              f"{len(stop)} instead.", "array_above_max_length")
    return tuple(stop)


def _boolean(body: Body, name: str, *, where: str | None = None) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong_type(where or name, "a boolean", value)
    return value


def _integer(body: Body, name: str, *, default: int, minimum: int | None = None) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise invalid(name, f"Invalid '{name}': integer below minimum value. Expected a value "
                            f">= {minimum}, but got {value} instead.",
                      "integer_below_min_value")
    return value


def _number(body: Body, name: str, *, default: float, minimum: float, maximum: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _wrong_type(name, "a decimal", value)
    if not minimum <= value <= maximum:  # NaN fails both comparisons
        side = "below minimum" if value < minimum else "above maximum"
        bound = f">= {minimum:g}" if value < minimum else f"<= {maximum:g}"
        raise invalid(name, f"Invalid '{name}': decimal {side} value. Expected a value "
                            f"{bound}, but got {value} instead.",
                      "decimal_below_min_value" if value < minimum
                      else "decimal_above_max_value")
    return float(value)


_JSON_TYPES = {str: "a string", bool: "a boolean", int: "an integer", float: "a decimal",
               list: "an array", dict: "an object", type(None): "null"}


def _wrong_type(param: str, expected: str, value: object) -> ApiError:
    got = _JSON_TYPES.get(type(value), type(value).__name__)
    return invalid(param, f"Invalid type for '{param}': expected {expected}, but got {got} "
                          "instead.", "invalid_type")


def _truthy(value: object) -> bool:
    return bool(value)


def _not_text_format(value: object) -> bool:
    return value is not None and value != {"type": "text"}


def _above_one(value: object) -> bool:
    return isinstance(value, int | float) and value > 1


# Options the model cannot honour, asked for when the predicate says so.
Unsupported = Mapping[str, tuple[Callable[[object], bool], str]]
CHAT_UNSUPPORTED: Unsupported = {
    "logprobs": (_truthy, "The reference server does not return log-probs."),
    "top_logprobs": (_truthy, "The reference server does not return log-probs."),
    "tools": (_truthy, "The reference model cannot call tools."),
    "functions": (_truthy, "The reference model cannot call functions."),
    "response_format": (_not_text_format, "The reference model writes only free text."),
}
COMPLETION_UNSUPPORTED: Unsupported = {
    "logprobs": (_truthy, "The reference server does not return log-probs."),
    "echo": (_truthy, "The reference server does not echo the prompt."),
    "suffix": (_truthy, "The reference model does not complete into a suffix."),
    "best_of": (_above_one, "The reference server generates one choice per request."),
}


def _reject_unsupported(body: Body, options: Unsupported) -> None:
    for name, (asks, message) in options.items():
        if asks(body.get(name)):
            raise invalid(name, message, "unsupported_parameter")


# Responses


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def model_object(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "bitstride"}


def model_list(name: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(name, created)]}


@dataclass(frozen=True)
class Head:
    """What the answer object, or every chunk of a streamed answer, shares."""

    id: str  # "chatcmpl-…" or "cmpl-…"
    created: int
    model: str

    def fields(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}


def chat_completion(head: Head, text: str, finish_reason: str,
                    counts: dict[str, int]) -> dict[str, Any]:
    return {**head.fields("chat.completion"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                                                 "refusal": None},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": counts}


def chat_chunk(head: Head, delta: dict[str, Any], *, finish_reason: str | None = None,
               include_usage: bool = False) -> dict[str, Any]:
    """A `chat.completion.chunk`: with `include_usage`, every chunk has `usage: null`."""
    chunk = {**head.fields("chat.completion.chunk"),
             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                          "finish_reason": finish_reason}]}
    return {**chunk, "usage": None} if include_usage else chunk


def text_completion(head: Head, text: str, finish_reason: str,
                    counts: dict[str, int]) -> dict[str, Any]:
    return {**head.fields("text_completion"),
            "choices": [{"index": 0, "text": text, "logprobs": None,
                         "finish_reason": finish_reason}],
            "usage": counts}


def text_chunk(head: Head, text: str, *, finish_reason: str | None = None,
               include_usage: bool = False) -> dict[str, Any]:
    """A streamed text completion's chunk: a `text_completion` object too, as OpenAI's are."""
    chunk = {**head.fields("text_completion"),
             "choices": [{"index": 0, "text": text, "logprobs": None,
                          "finish_reason": finish_reason}]}
    return {**chunk, "usage": None} if include_usage else chunk


def usage_chunk(first: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    """The last chunk when `include_usage`: the stream's id and kind, no choices, the usage."""
    return {**first, "choices": [], "usage": counts}


def sse(data: Mapping[str, Any] | str) -> bytes:
    """One server-sent event, as OpenAI writes them: `data: <json>` and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False,
                                                         separators=(",", ":"))
    return f"data: {text}\n\n".encode()


DONE = sse("[DONE]")
