"""How a provider reaches its upstream: one pooled aiohttp session, behind a seam the recorder wraps.

aiohttp, not httpx2: for each request httpx2 builds and merges URL objects, walks auth and
redirect layers, and its pool checks every idle connection, which made the upstream call about
half of this server's CPU per streamed response. aiohttp's connector takes the newest idle
connection of the host in constant time and parses the answer in C.
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

KEEP_IDLE = 4.0
"""Seconds an idle upstream connection is kept for the next request: below the 5 s after which
uvicorn-based upstreams (vLLM among them) close theirs, so a request is not sent on a connection
the upstream is closing."""
JSON_HEADERS = {"content-type": "application/json"}


class TransportError(Exception):
    """The request could not be sent, or its answer broke off."""


class TransportTimeout(TransportError):
    """No connection, or no bytes of the answer, within the configured time."""


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    body: bytes | None = None
    """JSON, when there is a body."""


class UpstreamAnswer(Protocol):
    """An answer whose body is read as it arrives; ``aclose`` lets its connection go."""

    @property
    def status(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamAnswer: ...

    async def aclose(self) -> None: ...


def env_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``…) names for ``url``'s host, read
    once rather than on every request."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy is None or urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    return proxy


@contextmanager
def _transport_errors(waited_for: str) -> Iterator[None]:
    """aiohttp's failures in the block as TransportTimeout (nothing came: ``waited_for``) or TransportError."""
    try:
        yield
    except TimeoutError as exc:
        raise TransportTimeout(f"no {waited_for} in time") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(str(exc) or type(exc).__name__) from exc


class AiohttpAnswer:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def content_type(self) -> str:
        return self._response.headers.get("content-type", "")

    async def chunks(self) -> AsyncIterator[bytes]:
        with _transport_errors("bytes of the answer"):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport:
    """One aiohttp session for one upstream, opened on first use (inside the server's event loop)."""

    def __init__(self, *, base_url: str, headers: Mapping[str, str], timeout: float, connect_timeout: float) -> None:
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=timeout)
        self._proxy = env_proxy(base_url)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEP_IDLE)  # one connection per call in flight
        self._session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout,
                                              proxy=self._proxy, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamAnswer:
        session = self._session or self._open()
        headers = JSON_HEADERS if request.body is not None else None
        with _transport_errors("answer"):
            response = await session.request(request.method, request.url, data=request.body, headers=headers)
        return AiohttpAnswer(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
