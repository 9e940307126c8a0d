"""The training files as token sequences, and the seeded order the trainer walks them in.

Rows are OpenAI's formats: chat `{"messages": [...]}` (the loss is on every assistant message
whose weight is not 0, its content and EOS, given everything before it); preference pairs
`{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}`;
RL prompts `{"messages": [...], ...}` whose other fields are the grader's `item`. Sequences
longer than MAX_TOKENS keep their end: the part that is learned.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from infra.reference import chat
from infra.reference.model import TokenSequence
from infra.reference.trainer.protocol import TrainingError

MAX_TOKENS = 256
T = TypeVar("T")
Row = dict[str, Any]


@dataclass(frozen=True)
class Pair:
    chosen: TokenSequence
    rejected: TokenSequence


@dataclass(frozen=True)
class Prompt:
    messages: list[chat.Message]
    tokens: tuple[int, ...]
    item: Row


def read_training(path: str, convert: Callable[[Row], T]) -> list[T]:
    return _read(path, convert, code="invalid_training_file")


def read_validation(path: str | None, convert: Callable[[Row], T]) -> list[T]:
    """The validation examples; none without a validation file."""
    return _read(path, convert, code="invalid_validation_file") if path else []


def _read(path: str, convert: Callable[[Row], T], *, code: str) -> list[T]:
    name = Path(path).name
    try:
        with open(path, "rb") as file:
            lines = [(number, line) for number, line in enumerate(file, start=1) if line.strip()]
    except OSError as error:
        raise TrainingError(code, f"Cannot read {name}: {error.strerror}.") from None
    if not lines:
        raise TrainingError(code, f"{name} has no examples.")
    examples = []
    for number, line in lines:
        try:
            examples.append(convert(_object(json.loads(line))))
        except (ValueError, KeyError, TypeError) as error:  # JSON and UTF-8 errors included
            detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise TrainingError(code, f"{name}, line {number}: {detail}") from None
    return examples


def _object(value: object) -> Row:
    if not isinstance(value, dict):
        raise TypeError("each line must be a JSON object.")
    return value


def _messages(value: object) -> list[chat.Message]:
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise TypeError("'messages' must be a list of message objects.")
    return value


def chat_sequence(row: Row) -> TokenSequence:
    tokens: list[int] = []
    mask: list[bool] = []
    for message in _messages(row["messages"]):
        marker = chat.marker_tokens(message["role"])
        target = chat.target_tokens(message.get("content"))
        learned = message["role"] == "assistant" and message.get("weight", 1) != 0
        tokens += marker + target
        mask += [False] * len(marker) + [learned] * len(target)
    if not any(mask):
        raise ValueError("no assistant message to learn from.")
    end = len(mask) - mask[::-1].index(True)  # nothing after the last learned token matters
    return _truncated(tokens[:end], mask[:end])


def answer_sequence(prompt: Sequence[int], answer: Sequence[int]) -> TokenSequence:
    """The prompt, then the answer: the answer's tokens are the learned ones."""
    return _truncated([*prompt, *answer], [False] * len(prompt) + [True] * len(answer))


def _truncated(tokens: list[int], mask: list[bool]) -> TokenSequence:
    return TokenSequence(tuple(tokens[-MAX_TOKENS:]), tuple(mask[-MAX_TOKENS:]))


def _answer(outputs: object) -> list[int]:
    if not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict):
        raise TypeError("each output must be a list of one assistant message.")
    return chat.target_tokens(outputs[0].get("content"))


def preference_pair(row: Row) -> Pair:
    prompt = chat.prompt_tokens(_messages(_object(row["input"])["messages"]))
    return Pair(answer_sequence(prompt, _answer(row["preferred_output"])),
                answer_sequence(prompt, _answer(row["non_preferred_output"])))


def rl_prompt(row: Row) -> Prompt:
    messages = _messages(row["messages"])
    return Prompt(messages, tuple(chat.prompt_tokens(messages)),
                  {key: value for key, value in row.items() if key != "messages"})


def token_count(batch: Sequence[TokenSequence]) -> int:
    return sum(len(sequence.tokens) for sequence in batch)


def batches(items: Sequence[T], size: int, rng: np.random.Generator) -> Iterator[list[T]]:
    """Endless batches: epoch after epoch, each in a new seeded order.

    A batch may span two epochs, so every batch has `size` items.
    """
    def epochs() -> Iterator[int]:
        while True:
            yield from rng.permutation(len(items)).tolist()

    indices = epochs()
    while True:
        yield [items[i] for i in itertools.islice(indices, size)]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items: bounded memory for a whole-file pass."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
