"""The request class of every app: the client's faults are not the server's crashes.

- JSON nested too deeply: msgspec stops decoding at Python's recursion limit (about a
  thousand levels) by raising RecursionError, which Litestar does not expect and which would
  otherwise end as a 500.
- A client that goes away before its body arrived whole: Litestar raises a 500 for it, which
  logged a traceback as `unhandled_error` for every impatient client. It is
  `ClientDisconnectedError` here, logged as a plain line (interfaces/http/errors.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, InternalServerException

NESTED_TOO_DEEPLY = "it is nested too deeply"
DISCONNECTED = "client disconnected prematurely"  # Litestar's detail for it


class ClientDisconnectedError(Exception):
    """The client closed the connection before its request body arrived whole."""


class BoundedRequest(Request[Any, Any, Any]):
    async def stream(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in super().stream():
                yield chunk
        except InternalServerException as error:
            if error.detail == DISCONNECTED:
                raise ClientDisconnectedError from None
            raise

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise ClientException(detail=NESTED_TOO_DEEPLY) from None
