"""A scripted OpenAI-compatible server, for the gateway's timeouts, stalls and failures.

Deployed with the `upstream` backend (`upstream_url` = its `/v1`), it is ready once
`GET /v1/models` answers. What `POST /v1/chat/completions` does is chosen by the last
message's content, so concurrent tests need no shared state:

- "ok" (or anything else): a normal answer, streamed if asked (3 content chunks);
- "slow": a stream of SLOW_CHUNKS content chunks, one every SLOW_INTERVAL seconds;
- "stall": a stream that sends one content chunk, then nothing for SILENCE seconds;
- "silent": no answer at all for SILENCE seconds;
- "fail": 500 in OpenAI's error shape (every request does, while `failing` is set).

Served by uvicorn in a thread of the test process (`running_stub`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

SLOW_CHUNKS = 400
SLOW_INTERVAL = 0.02
SILENCE = 20.0
PROMPT_TOKENS = 11


def _chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1,
            "model": "stub", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                          "finish_reason": finish}]}


def _sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


@dataclass
class StubUpstream:
    name: str = "stub"
    requests: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    hung_up: int = 0  # streams whose client (the gateway) closed the connection midway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] == "/v1/models":
            await self._json(send, 200, {"object": "list", "data": [
                {"id": self.name, "object": "model", "created": 1, "owned_by": "stub"}]})
            return
        request = json.loads(body or b"{}")
        self.requests.append(request)
        messages = request.get("messages") or [{}]
        mode = str(messages[-1].get("content") or "ok")
        if mode == "fail" or self.failing:
            await self._json(send, 500, {"error": {"message": "stub failure",
                                                   "type": "server_error", "code": None}})
            return
        if mode == "silent":
            await asyncio.sleep(SILENCE)
            return
        if not request.get("stream"):
            await self._json(send, 200, {
                "id": "chatcmpl-stub", "object": "chat.completion", "created": 1,
                "model": request.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "abc"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 3,
                          "total_tokens": PROMPT_TOKENS + 3}})
            return
        await self._stream(request, mode, receive, send)

    async def _stream(self, request: dict[str, Any], mode: str, receive: Any,
                      send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        count = {"slow": SLOW_CHUNKS, "stall": 1}.get(mode, 3)
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.body", "body": _sse(_chunk("")), "more_body": True})
        for _ in range(count):
            if gone.is_set():
                self.hung_up += 1
                return
            await send({"type": "http.response.body", "body": _sse(_chunk("x")),
                        "more_body": True})
            if mode == "slow":
                await asyncio.sleep(SLOW_INTERVAL)
        watcher.cancel()
        if mode == "stall":
            await asyncio.sleep(SILENCE)
            return
        closing = [_chunk(None, "stop")]
        if (request.get("stream_options") or {}).get("include_usage"):
            closing.append({**_chunk(None), "choices": [], "usage": {
                "prompt_tokens": PROMPT_TOKENS, "completion_tokens": count,
                "total_tokens": PROMPT_TOKENS + count}})
        await send({"type": "http.response.body",
                    "body": b"".join(map(_sse, [*closing, "[DONE]"])), "more_body": False})

    @staticmethod
    async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


@dataclass
class RunningStub:
    stub: StubUpstream
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def running_stub(port: int) -> Iterator[RunningStub]:
    stub = StubUpstream()
    server = uvicorn.Server(uvicorn.Config(stub, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="stub-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the stub did not start"
        time.sleep(0.02)
    running = RunningStub(stub, server, thread, port)
    try:
        yield running
    finally:
        running.stop()
