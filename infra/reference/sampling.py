"""Text generation with the reference model, one token at a time so that a server can stream.

Temperature 0 is greedy; otherwise tokens are drawn from the softmax of logits / temperature,
cut to the smallest set of most likely tokens whose probability reaches `top_p`. A token's
text is held back while it ends in an incomplete UTF-8 character or in what may be the start of
a stop string, so a stop string never reaches the caller.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from infra.reference import chat
from infra.reference.model import EOS, FloatArray, Params, next_logprobs


@dataclass(frozen=True)
class Token:
    """A generated token and the text it releases; the last one has a finish reason."""

    id: int
    text: str
    finish_reason: str | None = None  # "stop" (EOS or a stop string) or "length"


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class _Release:
    """Decodes bytes incrementally, holding back text that may still become a stop string."""

    def __init__(self, stop: Sequence[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = [text for text in stop if text]
        self._pending = ""

    def add(self, token: int) -> tuple[str, bool]:
        """The text now safe to release, and whether a stop string was reached."""
        self._pending += self._decoder.decode(bytes([token]))
        found = [self._pending.find(text) for text in self._stop if text in self._pending]
        if found:
            return self._pending[:min(found)], True
        held = max((size for text in self._stop for size in range(1, len(text))
                    if self._pending.endswith(text[:size])), default=0)
        cut = len(self._pending) - held
        released, self._pending = self._pending[:cut], self._pending[cut:]
        return released, False

    def flush(self) -> str:
        return self._pending + self._decoder.decode(b"", final=True)


def choose(logprobs: FloatArray, temperature: float, top_p: float,
           rng: np.random.Generator) -> int:
    """The next token id: greedy at temperature 0, else sampled with top-p filtering."""
    if temperature == 0:
        return int(np.argmax(logprobs))
    scaled = logprobs / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if top_p < 1:
        order = np.argsort(-probs, kind="stable")
        kept = order[:int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1]
        nucleus = np.zeros_like(probs)
        nucleus[kept] = probs[kept]
        probs = nucleus
    cumulative = np.cumsum(probs)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def generate(params: Params, messages: Sequence[chat.Message], *, max_tokens: int,
             temperature: float = 1.0, top_p: float = 1.0,
             rng: np.random.Generator | int | None = None,
             stop: Sequence[str] | None = None) -> Iterator[Token]:
    """The assistant's answer to `messages`, token by token, EOS included when drawn.

    `rng` is a generator to draw from or a seed; the same seed gives the same answer.
    """
    return generate_from(params, chat.prompt_tokens(messages), max_tokens=max_tokens,
                         temperature=temperature, top_p=top_p, rng=rng, stop=stop)


def generate_from(params: Params, prompt: Sequence[int], *, max_tokens: int,
                  temperature: float = 1.0, top_p: float = 1.0,
                  rng: np.random.Generator | int | None = None,
                  stop: Sequence[str] | None = None) -> Iterator[Token]:
    """What follows the prompt's tokens (a rendered chat, or a raw completion's bytes)."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1.")
    generator = np.random.default_rng(rng)
    context = list(prompt)
    release = _Release(stop or ())
    for count in range(1, max_tokens + 1):
        token = choose(next_logprobs(params, context), temperature, top_p, generator)
        if token == EOS:
            yield Token(token, release.flush(), "stop")
            return
        text, stopped = release.add(token)
        if stopped:
            yield Token(token, text, "stop")
            return
        if count == max_tokens:
            yield Token(token, text + release.flush(), "length")
            return
        yield Token(token, text)
        context.append(token)


def complete(params: Params, messages: Sequence[chat.Message], *, max_tokens: int,
             temperature: float = 1.0, top_p: float = 1.0,
             rng: np.random.Generator | int | None = None,
             stop: Sequence[str] | None = None) -> Completion:
    """The whole answer at once, with OpenAI's usage counts and finish reason."""
    tokens = list(generate(params, messages, max_tokens=max_tokens, temperature=temperature,
                           top_p=top_p, rng=rng, stop=stop))
    finish_reason = tokens[-1].finish_reason
    assert finish_reason is not None  # generate always ends on a token that has one
    return Completion("".join(token.text for token in tokens), len(chat.prompt_tokens(messages)),
                      len(tokens), finish_reason)
