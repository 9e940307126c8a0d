"""Object store over the S3 API (AWS S3, MinIO, Ceph, R2...), for production.

The SHA-256, and so the key, is known only at the end of the stream. A small object (one part)
is buffered and put straight under its final key. A larger one goes up as a multipart upload
under `<prefix>/.uploads/<uuid>` in parts of `part_size` (at least 5 MiB, S3's minimum), then
is copied server-side to `<prefix>/<sha256>` and the temporary key deleted. Memory holds about
two parts (the one being filled and the one waiting to be sent). Past `max_bytes` the
multipart upload is aborted, leaving nothing; a crash mid-upload can leave an incomplete
upload, so give the bucket an AbortIncompleteMultipartUpload lifecycle rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from application.datasets.ports import ObjectNotFoundError, StoredObject, TooLargeError
from infra.storage import Tally, check_prefix, split_key, verifying_stream

MIN_PART_SIZE = 5 * 1024 * 1024
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _is_not_found(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in NOT_FOUND


class _Parts:
    """Cuts a stream of chunks into parts of `size` bytes, counting as it goes."""

    def __init__(self, chunks: Iterable[bytes], size: int, max_bytes: int) -> None:
        self.chunks, self.size, self.max_bytes = chunks, size, max_bytes
        self.tally = Tally()

    def __iter__(self) -> Iterator[bytes]:
        buffer = bytearray()
        for chunk in self.chunks:
            self.tally.update(chunk)
            if self.tally.size > self.max_bytes:
                raise TooLargeError(self.max_bytes)
            buffer += chunk
            while len(buffer) >= self.size:
                yield bytes(buffer[: self.size])
                del buffer[: self.size]
        if buffer or not self.tally.size:
            yield bytes(buffer)


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str, *, part_size: int = 2 * MIN_PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.client, self.bucket, self.part_size = client, bucket, part_size

    def put_stream(self, key_prefix: str, chunks: Iterable[bytes], *,
                   max_bytes: int) -> StoredObject:
        check_prefix(key_prefix)
        parts = _Parts(chunks, self.part_size, max_bytes)
        upload = _MultipartUpload(self.client, self.bucket, f"{key_prefix}/.uploads/")
        pending: bytes | None = None
        try:
            for part in parts:
                if pending is not None:
                    upload.send(pending)
                pending = part
        except BaseException:
            upload.abort()
            raise
        key = f"{key_prefix}/{parts.tally.sha256}"
        if upload.started:
            upload.send(pending or b"")
            self._promote(upload.finish(), key)
        else:  # a single part: its hash is known, so it goes straight to its key
            self.client.put_object(Bucket=self.bucket, Key=key, Body=pending or b"")
        tally = parts.tally
        return StoredObject(key=key, sha256=tally.sha256, size=tally.size, lines=tally.lines)

    def _promote(self, temp: str, key: str) -> None:
        """Server-side copy to the content address (managed: multipart copy past 5 GB)."""
        try:
            if not self.exists(key):
                self.client.copy({"Bucket": self.bucket, "Key": temp}, self.bucket, key)
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=temp)

    def open(self, key: str) -> BinaryIO:
        _, digest = split_key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if _is_not_found(error):
                raise ObjectNotFoundError(key) from None
            raise
        return verifying_stream(body.read, body.close, digest, key)

    def exists(self, key: str) -> bool:
        split_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_not_found(error):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        split_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)


class _MultipartUpload:
    """A multipart upload to a temporary key, started by its first part."""

    def __init__(self, client: Any, bucket: str, temp_prefix: str) -> None:
        self.client, self.bucket = client, bucket
        self.key = f"{temp_prefix}{uuid.uuid4().hex}"
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    @property
    def started(self) -> bool:
        return self.upload_id is not None

    def send(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        try:
            answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, PartNumber=number,
                                             UploadId=self.upload_id, Body=body)
        except BaseException:
            self.abort()
            raise
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self) -> str:
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})
        except BaseException:
            self.abort()
            raise
        return self.key

    def abort(self) -> None:
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=self.upload_id)
            self.upload_id = None
