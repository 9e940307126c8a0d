"""What a deployment serves with: its backend, its upstream, its replica bounds. Checked here.

Events carry these as plain values, so a stored event never depends on a class layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from domain.shared.errors import ValidationFailedError
from domain.shared.text import checked_name, checked_text

BACKENDS = ("upstream", "reference")
MAX_REPLICAS = 8
MAX_URL_LENGTH = 2000
MAX_REASON_LENGTH = 2000
MAX_REPLICA_ID_LENGTH = 100


@dataclass(frozen=True)
class ServingSpec:
    """`upstream` proxies to an OpenAI-compatible server at `upstream_url`; `reference`
    serves the platform's reference model in process (no URL)."""

    backend: str
    upstream_url: str | None
    min_replicas: int
    max_replicas: int


def checked_url(value: object, *, param: str) -> str:
    """An absolute http(s) URL with a host and no credentials (events are never secret)."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_URL_LENGTH \
            or any(c.isspace() for c in value):
        raise ValidationFailedError(
            f"'{param}' must be an http(s) URL of at most {MAX_URL_LENGTH} characters.",
            param=param)
    try:
        parts = urlsplit(value)
        host, _port = parts.hostname, parts.port  # a malformed port raises ValueError
    except ValueError:
        raise ValidationFailedError(f"'{param}' is not a valid URL.", param=param) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailedError(f"'{param}' must be an http:// or https:// URL with a host.",
                                    param=param)
    if parts.username is not None or parts.password is not None:
        raise ValidationFailedError(
            f"'{param}' may not carry credentials; they would be stored in the event log.",
            param=param)
    return value


def checked_count(value: object, *, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_REPLICAS:
        raise ValidationFailedError(f"'{param}' must be an integer from 1 to {MAX_REPLICAS}.",
                                    param=param)
    return value


def checked_bounds(min_replicas: int | None, max_replicas: int | None, *,
                   current: tuple[int, int] | None = None) -> tuple[int, int]:
    """(min, max) with 1 ≤ min ≤ max ≤ 8. At create `min` defaults to 1 and `max` to `min`;
    in an update an absent value keeps the current one."""
    if current is None:
        low = 1 if min_replicas is None else checked_count(min_replicas, param="min_replicas")
        high = low if max_replicas is None else checked_count(max_replicas,
                                                              param="max_replicas")
    else:
        low = current[0] if min_replicas is None else checked_count(min_replicas,
                                                                    param="min_replicas")
        high = current[1] if max_replicas is None else checked_count(max_replicas,
                                                                     param="max_replicas")
    if low > high:
        param = "min_replicas" if min_replicas is not None else "max_replicas"
        raise ValidationFailedError(
            f"'min_replicas' ({low}) may not exceed 'max_replicas' ({high}).", param=param)
    return low, high


def checked_spec(*, backend: str, upstream_url: str | None, min_replicas: int | None,
                 max_replicas: int | None) -> ServingSpec:
    if backend not in BACKENDS:
        raise ValidationFailedError(f"'backend' must be one of {', '.join(BACKENDS)}.",
                                    param="backend")
    if backend == "upstream":
        if upstream_url is None:
            raise ValidationFailedError("The upstream backend needs 'upstream_url'.",
                                        param="upstream_url")
        upstream_url = checked_url(upstream_url, param="upstream_url")
    elif upstream_url is not None:
        raise ValidationFailedError(f"'upstream_url' is only for the upstream backend, not "
                                    f"{backend}.", param="upstream_url")
    low, high = checked_bounds(min_replicas, max_replicas)
    return ServingSpec(backend=backend, upstream_url=upstream_url, min_replicas=low,
                       max_replicas=high)


def checked_replica_id(value: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailedError("'replica_id' must be a string.", param="replica_id")
    return checked_name(value, param="replica_id", max_length=MAX_REPLICA_ID_LENGTH)


def checked_at(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise ValidationFailedError("'at' must be a finite unix time.", param="at")
    return float(value)


def checked_reason(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailedError("'reason' must be a non-empty string.", param="reason")
    return checked_text(value, param="reason", max_length=MAX_REASON_LENGTH)


def checked_error(error: Mapping[str, Any]) -> dict[str, str]:
    """Why a deployment cannot be served: a snake_case `code` and a `message`."""
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not code or not code.replace("_", "").isalnum():
        raise ValidationFailedError("'error.code' must be a snake_case code.",
                                    param="error.code")
    if not isinstance(message, str) or not message:
        raise ValidationFailedError("'error.message' must be a non-empty string.",
                                    param="error.message")
    return {"code": code[:64],
            "message": checked_text(message, param="error.message",
                                    max_length=MAX_REASON_LENGTH)}
