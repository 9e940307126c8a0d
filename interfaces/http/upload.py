"""Streaming a request body into the object store in constant memory.

The store's `put_stream` is synchronous; it runs in a worker thread and pulls chunks from the
event loop through a small bounded channel, so at most a few chunks are ever in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream

from application.datasets.ports import ObjectStore, StoredObject

CHUNK_BYTES = 1024 * 1024
IN_FLIGHT_CHUNKS = 4


async def store_stream(chunks: AsyncIterator[bytes], store: ObjectStore, prefix: str,
                       max_bytes: int) -> StoredObject:
    send, receive = anyio.create_memory_object_stream[bytes](IN_FLIGHT_CHUNKS)
    result: list[StoredObject] = []

    def write() -> None:
        try:
            result.append(store.put_stream(prefix, _pulled(receive), max_bytes=max_bytes))
        finally:
            anyio.from_thread.run(receive.aclose)

    async def feed() -> None:
        async with send:
            async for chunk in chunks:
                try:
                    await send.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the writer stopped (over the limit, or failed): stop reading

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(feed)
            await anyio.to_thread.run_sync(write)
    except BaseExceptionGroup as group_error:  # surface the writer's own error (e.g. too large)
        raise group_error.exceptions[0] from None
    return result[0]


def _pulled(receive: MemoryObjectReceiveStream[bytes]) -> Iterator[bytes]:
    while True:
        try:
            yield anyio.from_thread.run(receive.receive)
        except anyio.EndOfStream:
            return


async def file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """An uploaded form file (spooled to disk by the framework), read in chunks."""
    while chunk := await anyio.to_thread.run_sync(file.read, CHUNK_BYTES):
        yield chunk


def content_length(headers: Any) -> int | None:
    raw = headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None
