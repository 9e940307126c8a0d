"""Tokens from the model, made in worker threads, to the event loop.

Generation is CPU-bound numpy, so it never runs on the event loop. A streamed answer is pulled
in batches: each `await anyio.to_thread.run_sync(...)` advances the token iterator in a worker
thread until BATCH_SECONDS have passed (the first batch returns after its first token, so the
client sees it at once), and the batch goes out as one write of one SSE event per token.
Nothing generates between pulls, so when the client goes away (Litestar cancels the response
stream on `http.disconnect`) generation stops within one batch, there is no producer thread to
stop, and a slow reader holds back generation instead of letting it pile up in memory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import anyio.to_thread

from infra.reference.sampling import Token

# A batch's generation time: ~40 µs a token, so a few hundred tokens, each thread hop amortised.
BATCH_SECONDS = 0.01


def collect(tokens: Iterator[Token]) -> list[Token]:
    """Every token of an answer, in a worker thread: `await collect_in_thread(tokens)`."""
    return list(tokens)


async def collect_in_thread(tokens: Iterator[Token]) -> list[Token]:
    return await anyio.to_thread.run_sync(collect, tokens)


def pull(tokens: Iterator[Token], seconds: float) -> list[Token]:
    """The next tokens: at least one, until `seconds` have passed or the answer ends."""
    deadline = time.monotonic() + seconds
    batch: list[Token] = []
    for token in tokens:
        batch.append(token)
        if token.finish_reason is not None or time.monotonic() >= deadline:
            break
    return batch


async def token_batches(tokens: Iterator[Token], *,
                        seconds: float = BATCH_SECONDS) -> AsyncIterator[list[Token]]:
    """The answer's tokens in batches, generated in worker threads; the last ends the answer."""
    wait = 0.0  # the first token alone, as soon as it exists
    while True:
        batch = await anyio.to_thread.run_sync(pull, tokens, wait)
        wait = seconds
        if not batch:  # an iterator that ended without a finish reason: nothing more to come
            return
        yield batch
        if batch[-1].finish_reason is not None:
            return
