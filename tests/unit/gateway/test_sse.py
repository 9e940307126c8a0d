"""SseTap: events pass through as they complete; the usage-only chunk is kept for metering and
dropped for clients that did not ask for it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interfaces.http.gateway.sse import SseTap, event_data, split_events

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def sse(data: dict[str, Any] | str, newline: str = "\n") -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}{newline}{newline}".encode()


def chunk(content: str | None = None, *, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": None}


def usage_chunk() -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [], "usage": USAGE}


def stream(newline: str = "\n") -> list[bytes]:
    return [sse(chunk(""), newline), sse(chunk("Hel"), newline), sse(chunk("lo"), newline),
            sse(chunk(finish="stop"), newline), sse(usage_chunk(), newline),
            sse("[DONE]", newline)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_usage_chunk_is_dropped_when_the_client_did_not_ask(newline: str) -> None:
    tap = SseTap(strip_usage=True)
    events = stream(newline)
    out = b"".join(tap.feed(event) for event in events) + tap.finish()
    assert out == b"".join(event for event in events if b'"choices": []' not in event)
    assert tap.usage == USAGE
    assert tap.content_chunks == 2
    assert tap.done


def test_the_usage_chunk_stays_when_the_client_asked() -> None:
    tap = SseTap(strip_usage=False)
    events = stream()
    assert b"".join(tap.feed(event) for event in events) == b"".join(events)
    assert tap.usage == USAGE


def test_text_completion_chunks_count_as_content() -> None:
    tap = SseTap(strip_usage=True)
    text = {"id": "cmpl-1", "object": "text_completion", "model": "m",
            "choices": [{"index": 0, "text": "ab", "finish_reason": None}]}
    assert tap.feed(sse(text)) == sse(text)
    assert tap.content_chunks == 1


def test_an_event_split_across_reads_is_held_until_it_ends() -> None:
    tap = SseTap(strip_usage=True)
    whole = sse(chunk("Hi"))
    assert tap.feed(whole[:10]) == b""
    assert tap.feed(whole[10:-1]) == b""
    assert tap.feed(whole[-1:]) == whole
    usage = sse(usage_chunk())
    assert tap.feed(usage[:20]) == b""
    assert tap.feed(usage[20:] + sse("[DONE]")) == sse("[DONE]")
    assert tap.usage == USAGE


def test_comments_errors_and_junk_pass_through() -> None:
    tap = SseTap(strip_usage=True)
    error = sse({"error": {"message": "boom", "type": "server_error"}})
    for event in (b": keep-alive\n\n", error, b"data: not json\n\n", b"event: x\ndata: 1\n\n"):
        assert tap.feed(event) == event
    assert tap.usage is None and tap.content_chunks == 0


def test_an_unfinished_event_is_passed_on_at_the_end() -> None:
    tap = SseTap(strip_usage=True)
    assert tap.feed(b"data: {\"choi") == b""
    assert tap.finish() == b"data: {\"choi"
    assert tap.finish() == b""


def test_usage_on_every_chunk_keeps_the_last() -> None:
    tap = SseTap(strip_usage=True)
    first = {**chunk("a"), "usage": {"prompt_tokens": 7, "completion_tokens": 1}}
    second = {**chunk("b"), "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
    assert tap.feed(sse(first) + sse(second)) == sse(first) + sse(second)
    assert tap.usage == {"prompt_tokens": 7, "completion_tokens": 2}


def test_split_events_and_data() -> None:
    events, rest = split_events(b"data: a\n\n: c\r\n\r\ndata: b\r\rdata: c")
    assert events == [b"data: a\n\n", b": c\r\n\r\n", b"data: b\r\r"]
    assert rest == b"data: c"
    assert event_data(b"data: x\ndata:y\n\n") == b"x\ny"
    assert event_data(b": comment\n\n") is None


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_any_split_of_the_bytes_gives_the_same_output(cuts: list[int]) -> None:
    whole = b"".join(stream())
    expected_tap = SseTap(strip_usage=True)
    expected = expected_tap.feed(whole)
    tap, out, start = SseTap(strip_usage=True), b"", 0
    for size in cuts:
        out += tap.feed(whole[start:start + size])
        start += size
    out += tap.feed(whole[start:]) + tap.finish()
    assert out == expected
    assert (tap.usage, tap.content_chunks) == (expected_tap.usage, expected_tap.content_chunks)
