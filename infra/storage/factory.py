"""Choose the object store from settings: a folder under the data directory, or S3."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from application.datasets.ports import ObjectStore
from infra.settings import SettingsError
from infra.storage.filesystem import FilesystemObjectStore


def object_store(url: str | None, data_dir: Path) -> ObjectStore:
    """`s3://bucket?endpoint=http://host:9000&region=us-east-1`, or the embedded folder.

    Credentials come from the usual AWS variables (boto3 reads them itself).
    """
    if not url:
        return FilesystemObjectStore(data_dir / "objects")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FilesystemObjectStore(Path(parts.path))
    if parts.scheme != "s3" or not parts.netloc:
        raise SettingsError(f"OBJECT_STORE_URL must be s3://bucket or file:///path, got {url!r}")
    import boto3  # only S3 deployments pay for importing it

    from infra.storage.s3 import S3ObjectStore

    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    client = boto3.client("s3", endpoint_url=query.get("endpoint"),
                          region_name=query.get("region"))
    return S3ObjectStore(client, parts.netloc)
