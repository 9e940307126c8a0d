"""The fast path (msgspec decoder, plain-row loop) changes how soon, never what, is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.datasets.validation import ValidationReport, validate_lines
from domain.datasets.validation.plain import plain_chat_texts
from infra.dataset_rows import decode_plain_chat
from infra.tokenizers import token_counter_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "datasets"
COUNT = token_counter_for(None).count
OPTIONS: list[dict[str, Any]] = [
    {}, {"declared_format": "chat"}, {"declared_format": "preference"},
    {"declared_format": "prompt"}, {"purpose": "rl"}, {"context_length": 12}]


def both_paths(lines: list[bytes], **options: Any) -> tuple[ValidationReport, ValidationReport]:
    options = {"count_tokens": COUNT, "token_estimate": True, "min_examples": 2, **options}
    return (validate_lines(lines, plain_chat=decode_plain_chat, **options),
            validate_lines(lines, **options))


def fast_accepts(line: bytes) -> bool:
    messages = decode_plain_chat(line)
    return messages is not None and plain_chat_texts(messages) is not None


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_every_fixture_gets_the_same_report_on_both_paths(fixture: Path,
                                                          options: dict[str, Any]) -> None:
    fast, detailed = both_paths(fixture.read_bytes().splitlines(keepends=True), **options)
    assert fast == detailed


def test_plain_valid_rows_take_the_fast_path() -> None:
    lines = (FIXTURES / "valid_chat.jsonl").read_bytes().splitlines(keepends=True)
    # Rows 5, 6 and 9 (tool calls, content parts, metadata) are valid but for the detailed path.
    plain = [True, True, True, True, False, False, True, True, False, True]
    assert [fast_accepts(line) for line in lines] == plain
    assert fast_accepts(b'{"messages": [{"role": "developer", "content": "Be brief."}, '
                        b'{"role": "user", "content": "Hi", "name": "ann"}, '
                        b'{"role": "assistant", "content": "Hello", "weight": 1}]}\r\n')


NOT_PLAIN = {
    "another_row_key": b'{"messages": [{"role": "user", "content": "Hi"}, '
                       b'{"role": "assistant", "content": "Yo"}], "metadata": {}}\n',
    "bool_weight": b'{"messages": [{"role": "user", "content": "Hi"}, '
                   b'{"role": "assistant", "content": "Yo", "weight": true}]}\n',
    "null_weight": b'{"messages": [{"role": "user", "content": "Hi"}, '
                   b'{"role": "assistant", "content": "Yo", "weight": null}]}\n',
    "content_parts": b'{"messages": [{"role": "user", "content": "Hi"}, '
                     b'{"role": "assistant", "content": ["Yo"]}]}',
    "invalid_utf8": b'{"messages": [{"role": "user", "content": "\xc3"}, '
                    b'{"role": "assistant", "content": "Yo"}]}',
    "bom": b'\xef\xbb\xbf{"messages": [{"role": "user", "content": "Hi"}]}\n',
    "not_an_object": b'[{"role": "user", "content": "Hi"}]\n',
    "deep": b'{"messages": [{"role": "user", "content": "Hi", "x": '
            + b"[" * 10**5 + b"]" * 10**5 + b"}]}",
}


@pytest.mark.parametrize("line", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_the_decoder_refuses_what_is_not_plain(line: bytes) -> None:
    assert decode_plain_chat(line) is None


def test_a_lone_surrogate_is_counted_not_a_crash() -> None:
    line = (b'{"messages": [{"role": "user", "content": "\\ud800"}, '
            b'{"role": "assistant", "content": "ok"}]}\n')
    fast, detailed = both_paths([line, line])
    # Per row: 1 token for the surrogate's 3 bytes, 1 for "ok", 3 per message, 3 for the reply.
    assert fast == detailed and fast.valid and fast.token_stats.total == 2 * (1 + 1 + 3 + 3 + 3)


ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "robot", "User"])
CONTENTS = st.one_of(st.text(max_size=6), st.sampled_from(["", " ", "\u3000", "\t\n", "Hi"]),
                     st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))
WEIGHTS = st.sampled_from([0, 1, 2, -1, True, False, None, 1.0, 0.0, 10**30, "1"])
EXTRAS = st.dictionaries(st.sampled_from(["name", "tool_calls", "lang", "refusal"]),
                         st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=2)


def rare(draw: st.DrawFn, one_in: int) -> bool:
    return draw(st.integers(1, one_in)) == one_in  # the top: hypothesis favours small integers


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """Any message, mostly broken."""
    message: dict[str, Any] = {}
    if not rare(draw, 10):
        message["role"] = draw(ROLES)
    if not rare(draw, 10):
        message["content"] = draw(CONTENTS)
    if rare(draw, 4):
        message["weight"] = draw(WEIGHTS)
    if rare(draw, 6):
        message.update(draw(EXTRAS))
    return message


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    """A plain chat row, valid as drawn, then often spoiled in one place."""
    turns: list[dict[str, Any]] = []
    if draw(st.booleans()):
        turns.append({"role": draw(st.sampled_from(["system", "developer"])), "content": "Hi."})
    for _ in range(draw(st.integers(1, 3))):
        turns.append({"role": "user", "content": draw(st.text(min_size=1, max_size=6))})
        if rare(draw, 3):
            turns += [{"role": "assistant", "content": "Call."}, {"role": "tool", "content": "1"}]
        turns.append({"role": "assistant", "content": "Yes."})
    for turn in turns:
        if rare(draw, 4):
            turn["weight"] = draw(st.sampled_from([0, 1]))
        if rare(draw, 10):
            turn["name"] = draw(st.sampled_from(["ann", 7]))
    position = draw(st.integers(0, len(turns) - 1))
    spoil = draw(st.sampled_from(["none", "role", "content", "weight", "drop", "mute", "none"]))
    if spoil == "drop":
        del turns[position]
    elif spoil == "mute":  # nothing left to learn from
        turns = [{**turn, "weight": 0} if turn["role"] == "assistant" else turn for turn in turns]
    elif spoil != "none":
        spoilers = {"role": ROLES, "content": CONTENTS, "weight": WEIGHTS}
        turns[position][spoil] = draw(spoilers[spoil])
    return {"messages": turns}


rows = st.one_of(conversations(), st.one_of(
    st.lists(messages(), max_size=5).map(lambda listed: {"messages": listed}),
    st.fixed_dictionaries({"messages": st.lists(messages(), max_size=3)},
                          optional={"metadata": st.just({"k": "v"}), "input": st.just({}),
                                    "x": st.integers()})))
TRICKY = st.sampled_from([
    b'{"messages": [{"role": "robot", "content": "a", "role": "user"}], '
    b'"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}',
    b'{"messages": [{"role": "user", "content": "Hi", "content": " "}, '
    b'{"role": "assistant", "content": "Yo"}]}',
    b'{"messages": [{"role": "user", "content": "\\ud83d\\ude00"}, '
    b'{"role": "assistant", "content": "Yo", "weight": 1e0}]}',
    b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]',
    b'{"messages": [{"role": "user", "content": "a\tb"}, {"role": "assistant", "content": "Yo"}]}',
    b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Y",'
    b' "weight": -0}, {"role": "assistant", "content": "Z", "weight": NaN}]}',
    b'{"messa\\u0067es": [{"r\\u006fle": "user", "content": "Hi"}, '
    b'{"role": "assistant", "content": "Yo"}]}',
    b'{"messages": [{"role": "user", "content": "\xc0\x80"}, '
    b'{"role": "assistant", "content": "Yo"}]}',
    b'{"messages": [{"role": "user", "content": "\\ud800"}, '
    b'{"role": "assistant", "content": "Yo"}]}',
    b"", b"\n", b"  \r\n",
])


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    if rare(draw, 8):
        return draw(TRICKY) + draw(st.sampled_from([b"\n", b"\r\n", b""]))
    text = json.dumps(draw(rows), ensure_ascii=draw(st.booleans()))
    return text.encode() + draw(st.sampled_from([b"\n", b"\n", b"\r\n", b""]))


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=2, max_size=12), st.sampled_from(OPTIONS))
def test_both_paths_agree_on_random_rows(file: list[bytes], options: dict[str, Any]) -> None:
    fast, detailed = both_paths(file, **options)
    assert fast == detailed
