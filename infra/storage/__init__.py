"""Object storage backends (filesystem, S3 API) and the pieces both share.

Both write content-addressed keys `<prefix>/<sha256>` and read back through `VerifyingReader`,
which hashes what it returns and raises ChecksumMismatchError at the end if the bytes differ.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable

from application.datasets.ports import ChecksumMismatchError

CHUNK_SIZE = 1024 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_prefix(prefix: str) -> str:
    """A prefix is `/`-separated safe segments: no `..`, no absolute paths, no empty parts."""
    segments = prefix.split("/")
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"invalid key prefix {prefix!r}")
    return prefix


def split_key(key: str) -> tuple[str, str]:
    """(prefix, sha256) of a content-addressed key; ValueError for anything else."""
    prefix, _, digest = key.rpartition("/")
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"not a content-addressed key: {key!r}")
    return check_prefix(prefix), digest


class Tally:
    """SHA-256, size and line count of a stream, updated chunk by chunk."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0
        self.newlines = 0
        self.last_byte = b""

    def update(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.hash.update(chunk)
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.last_byte = chunk[-1:]

    @property
    def lines(self) -> int:
        return self.newlines + (self.size > 0 and self.last_byte != b"\n")

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()


class VerifyingReader(io.RawIOBase):
    """Reads through `read(n)` of a source and checks the SHA-256 (and size) at EOF."""

    def __init__(self, read: Callable[[int], bytes], close: Callable[[], None],
                 expected_sha256: str, key: str) -> None:
        super().__init__()
        self._read, self._close = read, close
        self._expected, self._key = expected_sha256, key
        self._hash = hashlib.sha256()
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._read(len(buffer))
        if not data:
            self._verify()
            return 0
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _verify(self) -> None:
        if self._verified:
            return
        if self._hash.hexdigest() != self._expected:
            raise ChecksumMismatchError(f"{self._key}: the stored bytes do not match their "
                                        f"checksum (got sha256 {self._hash.hexdigest()})")
        self._verified = True

    def close(self) -> None:
        if not self.closed:
            self._close()
        super().close()


def verifying_stream(read: Callable[[int], bytes], close: Callable[[], None],
                     expected_sha256: str, key: str) -> io.BufferedReader:
    return io.BufferedReader(VerifyingReader(read, close, expected_sha256, key),
                             buffer_size=CHUNK_SIZE)
