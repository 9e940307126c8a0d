"""Reading an upstream's server-sent events as they pass through the gateway.

The gateway always asks the upstream for usage on streams (`stream_options.include_usage`).
OpenAI's servers (and vLLM, SGLang, the reference server) then end the stream with one extra
chunk: `choices: []` and the `usage` totals, just before `data: [DONE]`. `SseTap` forwards
every event unchanged and as soon as it is complete, keeps the last `usage` it saw (for
metering and rate limits), counts the chunks that carried content (the output estimate when
a stream ends without usage), and drops that usage-only chunk when the client did not ask for
usage itself — so the client sees the stream it asked for.

Events end at a blank line (`\\n\\n`, `\\r\\n\\r\\n` or `\\r\\r`); an event split across network
reads is held until its end arrives (never longer). Bytes after the last complete event when
the upstream stops are passed through as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec

_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")
_DONE = b"[DONE]"
_decode = msgspec.json.Decoder().decode


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete events (each with its separator) and the incomplete rest."""
    events: list[bytes] = []
    start = 0
    while True:
        end, width = -1, 0
        for separator in _SEPARATORS:
            found = buffer.find(separator, start)
            if found != -1 and (end == -1 or found < end):
                end, width = found, len(separator)
        if end == -1:
            return events, buffer[start:]
        events.append(buffer[start:end + width])
        start = end + width


def event_data(event: bytes) -> bytes | None:
    """The `data` of one event (its `data:` lines joined by newlines), or None if it has none
    (a comment, a keep-alive)."""
    lines = [line for line in event.splitlines() if line.startswith(b"data:")]
    if not lines:
        return None
    values = [line[5:].removeprefix(b" ") for line in lines]
    return b"\n".join(values)


def has_content(chunk: dict[str, Any]) -> bool:
    """Whether a completion chunk carries generated text (chat `delta.content`, or `text`)."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and delta.get("content"):
            return True
        if choice.get("text"):
            return True
    return False


def is_usage_chunk(chunk: dict[str, Any]) -> bool:
    """The final chunk `include_usage` adds: no choices, the totals in `usage`."""
    return chunk.get("choices") == [] and isinstance(chunk.get("usage"), dict)


class SseTap:
    """Feed it the upstream's bytes as they arrive; it returns what to send on."""

    def __init__(self, *, strip_usage: bool) -> None:
        self.strip_usage = strip_usage
        self.usage: dict[str, Any] | None = None
        self.content_chunks = 0
        self.done = False  # `data: [DONE]` seen
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        events, self._pending = split_events(self._pending + data if self._pending else data)
        if not events:
            return b""
        kept = [event for event in events if self._keep(event)]
        return kept[0] if len(kept) == 1 else b"".join(kept)

    def finish(self) -> bytes:
        """What is left when the upstream stops: an incomplete event, passed as it is."""
        rest, self._pending = self._pending, b""
        return rest

    def _keep(self, event: bytes) -> bool:
        data = event_data(event)
        if data is None:
            return True
        if data == _DONE:
            self.done = True
            return True
        try:
            chunk = _decode(data)
        except msgspec.DecodeError:
            return True  # not JSON: not ours to judge
        if not isinstance(chunk, dict):
            return True
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        if has_content(chunk):
            self.content_chunks += 1
            return True
        return not (self.strip_usage and is_usage_chunk(chunk))
