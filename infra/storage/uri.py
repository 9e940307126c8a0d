"""`object://<key>`: a file in Bitstride's own configured object store, as a URI.

Models record where their weights are as a URI; weights the platform produced itself (by a
training run) live in the object store, whichever backend it has, and are named this way.
"""

from __future__ import annotations

SCHEME = "object://"


def object_uri(key: str) -> str:
    return f"{SCHEME}{key}"


def object_key(uri: str) -> str | None:
    """The key of an `object://` URI; None for any other URI (s3://, file://, ...)."""
    return uri[len(SCHEME):] if uri.startswith(SCHEME) else None
