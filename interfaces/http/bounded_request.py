"""The request class of every app: JSON nested too deeply is the client's error, not a crash.

msgspec stops decoding at Python's recursion limit (about a thousand levels) by raising
RecursionError, which Litestar does not expect and which would otherwise end as a 500.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

NESTED_TOO_DEEPLY = "it is nested too deeply"


class BoundedRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise ClientException(detail=NESTED_TOO_DEEPLY) from None
