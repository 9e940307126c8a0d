"""A large upload streams through the control plane to storage in constant memory."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.conftest import sign_up
from tests.support.datasets import create_dataset

pytestmark = pytest.mark.anyio
CHUNK = json.dumps({"messages": [{"role": "user", "content": "q" * 200},
                                 {"role": "assistant", "content": "a" * 200}]}).encode() + b"\n"
LINES_PER_CHUNK = (1024 * 1024) // len(CHUNK)
CHUNKS = 64  # about 64 MB


async def test_a_64_mb_upload_keeps_memory_flat(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    digest = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        block = CHUNK * LINES_PER_CHUNK
        for _ in range(CHUNKS):
            digest.update(block)
            yield block

    tracemalloc.start()
    try:
        response = await client.post(
            f"/v1/datasets/{dataset['id']}/upload", content=body(),
            headers={**ada.headers, "Content-Type": "application/jsonl"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.text
    version = response.json()["versions"][-1]
    assert version["bytes"] == len(CHUNK) * LINES_PER_CHUNK * CHUNKS
    assert version["lines"] == LINES_PER_CHUNK * CHUNKS
    assert version["sha256"] == digest.hexdigest()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 64 MiB upload"
