"""The gateway's HTTP client to model replicas: aiohttp, one keep-alive pool per process.

Why aiohttp and not httpx (which the rest of the code base uses): at 32 concurrent requests,
httpx spent about 2 ms of CPU per proxied request, most of it in its connection pool checking
every pooled connection through anyio on each request; aiohttp spent about 0.1 ms on the same
machine (`BENCHMARKS.md`). The proxy's path is the one place where that difference is the
product: it was half of the gateway's CPU.

The proxy sees three failures, whatever the library says:
- `UpstreamConnectError`: no connection could be made (refused, unreachable, connect timeout);
  nothing was sent, so another replica may be tried.
- `UpstreamBusyError`: every connection of the pool is in use past the connect timeout.
- `UpstreamBrokeError`: the connection broke before or during the answer.
Answer bodies are passed through untouched (no decompression, no redirects, no proxies).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp


class UpstreamConnectError(Exception):
    pass


class UpstreamBusyError(Exception):
    pass


class UpstreamBrokeError(Exception):
    pass


class UpstreamResponse:
    """An answer whose headers have arrived; read it whole or by chunks, then `aclose`."""

    def __init__(self, raw: aiohttp.ClientResponse, slot: asyncio.Semaphore) -> None:
        self._raw, self._slot = raw, slot
        self.status_code = raw.status
        self.headers: Mapping[str, str] = raw.headers  # case-insensitive
        self._closed = False

    async def aread(self) -> bytes:
        try:
            return await self._raw.read()
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamBrokeError(type(error).__name__) from error

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._raw.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamBrokeError(type(error).__name__) from error

    async def aclose(self) -> None:
        """Back to the pool when read to the end; otherwise the connection is closed, so a
        replica still generating for a client that left stops."""
        if self._closed:
            return
        self._closed = True
        if self._raw.content.at_eof():
            self._raw.release()
        else:
            self._raw.close()
        self._slot.release()


class UpstreamClient:
    def __init__(self, *, pool_size: int, connect_timeout: float) -> None:
        self.pool_size, self.connect_timeout = pool_size, connect_timeout
        self._slots: asyncio.Semaphore | None = None  # connections in use, at most pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Made on the serving loop: the session and the semaphore belong to it."""
        self._slots = asyncio.Semaphore(self.pool_size)
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
        # No cookie jar: one session carries every tenant's requests, so a cookie a replica
        # set on one answer would otherwise go out with the next request, anyone's.
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> UpstreamResponse:
        """Send `body`; returns once the answer's headers are in (its body is not read)."""
        session, slots = self._session, self._slots
        if session is None or slots is None:
            raise RuntimeError("The gateway's upstream client starts with the app.")
        try:
            async with asyncio.timeout(self.connect_timeout):
                await slots.acquire()
        except TimeoutError:
            raise UpstreamBusyError from None
        try:
            raw = await session.post(url, data=body, headers=dict(headers),
                                     allow_redirects=False)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            slots.release()
            raise UpstreamConnectError(type(error).__name__) from error
        except (aiohttp.ClientError, OSError) as error:
            slots.release()
            raise UpstreamBrokeError(type(error).__name__) from error
        except BaseException:  # cancelled (a deadline, the client left): nothing to keep
            slots.release()
            raise
        return UpstreamResponse(raw, slots)
