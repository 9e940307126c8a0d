"""The reference server's routes: OpenAI's inference API for one model, plus a health probe.

Request bodies are read raw and parsed by protocol.py, so that every error, bad JSON included,
has OpenAI's shape and names the offending `param`. Bodies over MAX_BODY_BYTES answer 413.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from litestar.params import FromPath
from litestar.response import Stream

from infra.reference import chat, sampling
from infra.reference.model import Params
from infra.reference.sampling import Token, generate_from
from infra.reference.server import protocol
from infra.reference.server.protocol import ApiError
from infra.reference.server.streaming import collect_in_thread, token_batches

log = logging.getLogger("bitstride.reference.server")

MAX_BODY_BYTES = 1024 * 1024
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Served:
    """The model this process serves, under the name clients ask for."""

    params: Params
    name: str
    created: int  # Unix seconds: when the weights were written (or the server started)


def create_app(served: Served) -> Litestar:
    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        # The weights are loaded before the server listens, so a running server is ready.
        return {"status": "ok"}

    @get("/v1/models", sync_to_thread=False)
    def list_models() -> dict[str, Any]:
        return protocol.model_list(served.name, served.created)

    @get("/v1/models/{model_id:path}", sync_to_thread=False)
    def retrieve_model(model_id: FromPath[str]) -> dict[str, Any]:
        protocol.check_model({"model": model_id.lstrip("/")}, served.name)
        return protocol.model_object(served.name, served.created)

    @post("/v1/chat/completions", status_code=200)
    async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any]:
        parsed = protocol.parse_chat(protocol.parse_json(await request.body()), served.name)
        messages = list(parsed.messages)
        tokens = sampling.generate(served.params, messages, **parsed.sampling.arguments())
        prompt_count = len(chat.prompt_tokens(messages))
        return await _answer(_ChatShape(served.name), tokens, prompt_count, parsed.stream,
                             parsed.include_usage)

    @post("/v1/completions", status_code=200)
    async def completions(request: Request[Any, Any, Any]) -> Response[Any]:
        parsed = protocol.parse_completion(protocol.parse_json(await request.body()),
                                           served.name)
        prompt = list(parsed.prompt.encode())  # raw bytes: no role markers, no EOS
        tokens = generate_from(served.params, prompt, **parsed.sampling.arguments())
        return await _answer(_TextShape(served.name), tokens, len(prompt), parsed.stream,
                             parsed.include_usage)

    @post("/v1/embeddings", status_code=200)
    async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
        protocol.check_model(protocol.parse_json(await request.body()), served.name)
        raise ApiError(400, f"The model `{served.name}` does not support embeddings: the "
                            "reference model has no embedding head.",
                       param="model", code="unsupported_model")

    return Litestar(
        route_handlers=[health, list_models, retrieve_model, chat_completions, completions,
                        embeddings],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error,
                            Exception: _internal_error},
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


class _Shape:
    """How one kind of answer (chat or text completion) looks, whole and in chunks."""

    prefix: str

    def __init__(self, model: str) -> None:
        self.head = protocol.Head(f"{self.prefix}-{secrets.token_hex(12)}", int(time.time()),
                                  model)

    def whole(self, text: str, finish_reason: str, counts: dict[str, int]) -> dict[str, Any]:
        raise NotImplementedError

    def opening(self, include_usage: bool) -> list[dict[str, Any]]:
        """Chunks sent before the first token."""
        return []

    def chunk(self, text: str, finish_reason: str | None,
              include_usage: bool) -> dict[str, Any]:
        raise NotImplementedError


class _ChatShape(_Shape):
    prefix = "chatcmpl"

    def whole(self, text: str, finish_reason: str, counts: dict[str, int]) -> dict[str, Any]:
        return protocol.chat_completion(self.head, text, finish_reason, counts)

    def opening(self, include_usage: bool) -> list[dict[str, Any]]:
        return [protocol.chat_chunk(self.head, {"role": "assistant", "content": ""},
                                    include_usage=include_usage)]

    def chunk(self, text: str, finish_reason: str | None,
              include_usage: bool) -> dict[str, Any]:
        """A token's text, or (with the finish reason) the last chunk, whose delta is empty."""
        delta = {} if finish_reason else {"content": text}
        return protocol.chat_chunk(self.head, delta, finish_reason=finish_reason,
                                   include_usage=include_usage)


class _TextShape(_Shape):
    prefix = "cmpl"

    def whole(self, text: str, finish_reason: str, counts: dict[str, int]) -> dict[str, Any]:
        return protocol.text_completion(self.head, text, finish_reason, counts)

    def chunk(self, text: str, finish_reason: str | None,
              include_usage: bool) -> dict[str, Any]:
        return protocol.text_chunk(self.head, text, finish_reason=finish_reason,
                                   include_usage=include_usage)


async def _answer(shape: _Shape, tokens: Iterator[Token], prompt_count: int, stream: bool,
                  include_usage: bool) -> Response[Any]:
    if stream:
        return Stream(_events(shape, tokens, prompt_count, include_usage),
                      media_type="text/event-stream", headers=SSE_HEADERS)
    started = time.monotonic()
    answer = await collect_in_thread(tokens)
    finish_reason = answer[-1].finish_reason or "length"
    counts = protocol.usage(prompt_count, len(answer))
    _log_done(shape, counts, finish_reason, started)
    return Response(shape.whole("".join(token.text for token in answer), finish_reason, counts),
                    status_code=200)


async def _events(shape: _Shape, tokens: Iterator[Token], prompt_count: int,
                  include_usage: bool) -> AsyncIterator[bytes]:
    """The answer as SSE: opening chunks, one chunk per token with text, the finish chunk,
    the usage chunk if asked, `[DONE]`. An error mid-stream is an `{"error": ...}` event."""
    started = time.monotonic()
    opening = shape.opening(include_usage)
    if opening:  # at once, before any generation: the client knows the answer has begun
        yield b"".join(protocol.sse(chunk) for chunk in opening)
    count, finish_reason = 0, "length"
    ended = False  # False when the client went away: Litestar cancelled or closed us
    try:
        async for batch in token_batches(tokens):
            count += len(batch)
            finish_reason = batch[-1].finish_reason or finish_reason
            events = [protocol.sse(shape.chunk(token.text, None, include_usage))
                      for token in batch if token.text]
            if events:
                yield b"".join(events)
        ended = True
    except Exception:
        ended = True
        log.exception("%s: generation failed after %d tokens", shape.head.id, count)
        yield protocol.sse(protocol.error_body("The server failed while generating.",
                                               "server_error"))
        return
    finally:
        if not ended:
            log.info("%s: stream ended early (client gone?) after %d tokens", shape.head.id, count)
    counts = protocol.usage(prompt_count, count)
    closing = [shape.chunk("", finish_reason, include_usage)]
    if include_usage:
        closing.append(protocol.usage_chunk(closing[0], counts))
    _log_done(shape, counts, finish_reason, started)
    yield b"".join([*map(protocol.sse, closing), protocol.DONE])


def _log_done(shape: _Shape, counts: dict[str, int], finish_reason: str,
              started: float) -> None:
    log.info("%s: %d prompt + %d completion tokens, finish %s, %.1f ms", shape.head.id,
             counts["prompt_tokens"], counts["completion_tokens"], finish_reason,
             (time.monotonic() - started) * 1000)


def _error_response(status: int, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(body, status_code=status, headers=headers)


def _api_error(_: Request[Any, Any, Any], error: ApiError) -> Response[Any]:
    return _error_response(error.status, error.body())


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    """Framework errors (no route, wrong method, body too large...) in OpenAI's shape."""
    status = error.status_code
    if status >= 500:  # a framework fault: its detail is not for clients
        return _internal_error(request, error)
    where = f"({request.method} {request.url.path})"
    messages: dict[type[HTTPException], Callable[[], str]] = {
        NotFoundException: lambda: f"Invalid URL {where}",
        MethodNotAllowedException: lambda: f"Invalid method for URL {where}",
    }
    message = next((make() for kind, make in messages.items() if isinstance(error, kind)),
                   None)
    code = None
    if message is None and status == 413:
        message = f"The request body is larger than {MAX_BODY_BYTES} bytes."
        code = "request_too_large"
    body = protocol.error_body(message or str(error.detail), protocol.error_type_of(status),
                               code=code)
    return _error_response(status, body, error.headers)


def _internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return _error_response(500, protocol.error_body("The server had an error while processing "
                                                    "your request.", "server_error"))
