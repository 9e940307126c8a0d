"""Object store on a local directory (the embedded default, `./var/objects/`).

A put streams into a temporary file in the target directory, fsyncs it, then `os.replace`s it
onto `root/<prefix>/<sha256>` and fsyncs the directory: readers see the whole object or none,
and a crash leaves at most a `.tmp-*` file that is never read as an object.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from application.datasets.ports import ObjectNotFoundError, StoredObject, TooLargeError
from infra.storage import Tally, check_prefix, split_key, verifying_stream


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        prefix, digest = split_key(key)
        return self.root / prefix / digest

    def put_stream(self, key_prefix: str, chunks: Iterable[bytes], *,
                   max_bytes: int) -> StoredObject:
        directory = self.root / check_prefix(key_prefix)
        directory.mkdir(parents=True, exist_ok=True)
        temp = directory / f".tmp-{uuid.uuid4().hex}"
        try:
            tally = self._write(temp, chunks, max_bytes)
            target = directory / tally.sha256
            os.replace(temp, target)  # same content twice: the same bytes land on the same name
            _fsync_directory(directory)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return StoredObject(key=f"{key_prefix}/{tally.sha256}", sha256=tally.sha256,
                            size=tally.size, lines=tally.lines)

    @staticmethod
    def _write(temp: Path, chunks: Iterable[bytes], max_bytes: int) -> Tally:
        tally = Tally()
        with temp.open("xb") as out:
            for chunk in chunks:
                tally.update(chunk)
                if tally.size > max_bytes:
                    raise TooLargeError(max_bytes)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return tally

    def open(self, key: str) -> BinaryIO:
        _, digest = split_key(key)
        try:
            source = self._path(key).open("rb", buffering=0)
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        return verifying_stream(source.read, source.close, digest, key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()
