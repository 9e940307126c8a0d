"""One contract, two backends: the filesystem store and the S3 store against moto's server."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from application.datasets.ports import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
    TooLargeError,
)
from infra.storage.filesystem import FilesystemObjectStore
from infra.storage.s3 import MIN_PART_SIZE, S3ObjectStore

MiB = 1024 * 1024
PREFIX = "org_1/ds_1"


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def read_all(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as stream:
        return stream.read()


class ObjectStoreContract:
    """Every backend passes these; subclasses provide `store`, `leftovers` and `corrupt`."""

    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError

    def leftovers(self, store: Any) -> list[str]:
        """Everything the backend holds, temporary files or uploads included."""
        raise NotImplementedError

    def corrupt(self, store: Any, key: str, data: bytes) -> None:
        raise NotImplementedError

    def put(self, store: ObjectStore, data: bytes, max_bytes: int = 64 * MiB) -> StoredObject:
        return store.put_stream(PREFIX, chunked(data), max_bytes=max_bytes)

    def test_round_trip(self, store: ObjectStore) -> None:
        data = b'{"messages": []}\n' * 1000 + b"last line without newline"
        stored = self.put(store, data)
        digest = hashlib.sha256(data).hexdigest()
        assert stored == StoredObject(key=f"{PREFIX}/{digest}", sha256=digest,
                                      size=len(data), lines=1001)
        assert store.exists(stored.key)
        assert read_all(store, stored.key) == data

    def test_lines_are_iterable_from_the_stream(self, store: ObjectStore) -> None:
        stored = self.put(store, b"a\nb\n")
        with store.open(stored.key) as stream:
            assert list(stream) == [b"a\n", b"b\n"]

    def test_same_content_is_stored_once(self, store: ObjectStore) -> None:
        first, second = self.put(store, b"same\n"), self.put(store, b"same\n")
        assert first == second
        assert self.leftovers(store) == [first.key]

    def test_other_content_gets_another_key(self, store: ObjectStore) -> None:
        assert self.put(store, b"one\n").key != self.put(store, b"two\n").key

    def test_too_large_leaves_nothing(self, store: ObjectStore) -> None:
        with pytest.raises(TooLargeError):
            self.put(store, os.urandom(2 * MiB), max_bytes=MiB)
        assert self.leftovers(store) == []

    def test_exactly_max_bytes_is_accepted(self, store: ObjectStore) -> None:
        assert self.put(store, b"x" * 1000, max_bytes=1000).size == 1000

    def test_corruption_is_detected_on_read(self, store: ObjectStore) -> None:
        stored = self.put(store, b"good bytes\n" * 100)
        self.corrupt(store, stored.key, b"evil bytes\n" * 100)
        with pytest.raises(ChecksumMismatchError), store.open(stored.key) as stream:
            stream.read()

    def test_concurrent_puts_of_the_same_content(self, store: ObjectStore) -> None:
        data = os.urandom(256 * 1024)
        results: list[StoredObject] = []
        barrier = threading.Barrier(8)

        def put() -> None:
            barrier.wait()
            results.append(self.put(store, data))

        threads = [threading.Thread(target=put) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8 and len(set(results)) == 1
        assert self.leftovers(store) == [results[0].key]
        assert read_all(store, results[0].key) == data

    def test_empty_file(self, store: ObjectStore) -> None:
        stored = store.put_stream(PREFIX, iter([]), max_bytes=10)
        assert (stored.size, stored.lines) == (0, 0)
        assert stored.sha256 == hashlib.sha256(b"").hexdigest()
        assert read_all(store, stored.key) == b""

    def test_binary_file(self, store: ObjectStore) -> None:
        data = bytes(range(256)) * 4096 + b"\x00\xff"
        stored = self.put(store, data)
        assert read_all(store, stored.key) == data
        assert stored.lines == 4097  # 4096 newline bytes plus the unterminated tail

    def test_delete(self, store: ObjectStore) -> None:
        stored = self.put(store, b"bye\n")
        store.delete(stored.key)
        store.delete(stored.key)  # a second delete is not an error
        assert not store.exists(stored.key)
        with pytest.raises(ObjectNotFoundError):
            store.open(stored.key)

    def test_keys_must_be_content_addressed_and_safe(self, store: ObjectStore) -> None:
        with pytest.raises(ValueError, match="prefix"):
            store.put_stream("../escape", iter([b"x"]), max_bytes=10)
        with pytest.raises(ValueError, match="content-addressed"):
            store.exists("org_1/not-a-digest")


class TestFilesystemObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return FilesystemObjectStore(tmp_path / "objects")

    def leftovers(self, store: Any) -> list[str]:
        root = store.root
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def corrupt(self, store: Any, key: str, data: bytes) -> None:
        (store.root / key).write_bytes(data)


class TestS3ObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, s3_client: Any, s3_bucket: str) -> ObjectStore:
        return S3ObjectStore(s3_client, s3_bucket, part_size=MIN_PART_SIZE)

    def leftovers(self, store: Any) -> list[str]:
        listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        return sorted([o["Key"] for o in listed] + [f"upload:{u['Key']}" for u in uploads])

    def corrupt(self, store: Any, key: str, data: bytes) -> None:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=data)

    def test_large_file_goes_up_in_parts(self, store: Any) -> None:
        data = os.urandom(MIN_PART_SIZE * 2 + 123)
        stored = self.put(store, data, max_bytes=64 * MiB)
        assert read_all(store, stored.key) == data
        assert self.leftovers(store) == [stored.key]

    def test_too_large_after_a_part_aborts_the_upload(self, store: Any) -> None:
        with pytest.raises(TooLargeError):
            self.put(store, os.urandom(MIN_PART_SIZE * 2 + 1), max_bytes=MIN_PART_SIZE * 2)
        assert self.leftovers(store) == []
