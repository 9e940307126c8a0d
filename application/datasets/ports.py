"""What the datasets context needs from infrastructure: token counting and object storage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Protocol


class TokenCounter(Protocol):
    """A model's tokenizer, or an estimate of it (`estimated` says which, for the report)."""

    name: str
    estimated: bool

    def count(self, text: str) -> int: ...


@dataclass(frozen=True)
class StoredObject:
    """One stored, immutable version: `key` is `<prefix>/<sha256>`.

    `lines` counts newline characters, plus one for a final line without a newline.
    """

    key: str
    sha256: str
    size: int
    lines: int


class StorageError(Exception):
    """Base of the object store's errors."""


class TooLargeError(StorageError):
    """The content passed `max_bytes`; nothing was stored. The HTTP layer answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The file is larger than the limit of {max_bytes} bytes.")
        self.max_bytes = max_bytes


class ChecksumMismatchError(StorageError):
    """The bytes read back are not the bytes stored (raised at the end of the stream)."""


class ObjectNotFoundError(StorageError):
    """No object under that key."""


class ObjectStore(Protocol):
    """Content-addressed, immutable storage for dataset and model files.

    Sync on purpose: the application layer is sync (DESIGN §3). An async caller (the upload
    route) runs `put_stream` in a worker thread and feeds it from a bounded queue, so memory
    stays constant whatever the upload size.
    """

    def put_stream(self, key_prefix: str, chunks: Iterable[bytes], *,
                   max_bytes: int) -> StoredObject:
        """Store the chunks under `<key_prefix>/<sha256>` atomically; storing the same content
        again is a no-op returning the same object. Raises TooLargeError past `max_bytes`,
        leaving nothing behind."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Read an object. Reading to the end raises ChecksumMismatchError if the bytes differ
        from the SHA-256 in the key; ObjectNotFoundError if there is no such object."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        ...
