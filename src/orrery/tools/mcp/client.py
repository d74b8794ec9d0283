"""A client for remote MCP servers, for the Responses API's server-side ``mcp`` tool.

Every listing and every call opens its own MCP session and closes it when done, so nothing is kept
between requests or model turns. The session starts in the SDK's ``auto`` mode: it probes
``server/discover`` (the stateless 2026-07-28 protocol) and falls back to the ``initialize``
handshake that older servers expect. Streamable HTTP is the transport, unless the URL's path ends
in ``/sse``, which selects the older SSE transport.

Failures to reach or use a server raise :class:`McpServerError`, whose message names the server
(without credentials) and never contains a header value.
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
import orjson
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import (
    AudioContent,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    Implementation,
    TextContent,
    TextResourceContents,
    Tool,
)

from orrery import __version__
from orrery.outbound import OutboundPolicy, OutboundRefused
from orrery.urls import redacted

CONNECT_TIMEOUT = 10.0
TIMEOUT = 60.0
MAX_PAGES = 100


class McpServerError(Exception):
    """The MCP server could not be reached, refused us, or broke the protocol.

    ``status`` is the HTTP status the server answered with, when that was the failure.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def list_tools(server_url: str, headers: dict[str, str], policy: OutboundPolicy, *,
                     connect_timeout: float = CONNECT_TIMEOUT, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Every tool the server offers, in the shape of OpenAI's ``McpListToolsTool``."""
    async with _session(server_url, headers, policy, connect_timeout, timeout) as (client, _):
        return [_listed(tool) for tool in await _all_tools(client, server_url)]


async def call_tool(server_url: str, headers: dict[str, str], policy: OutboundPolicy, name: str,
                    arguments: dict[str, Any], *, connect_timeout: float = CONNECT_TIMEOUT,
                    timeout: float = TIMEOUT) -> tuple[str, str | None]:
    """Call one tool; answer its output as text, and an error message if the call failed.

    The tools are listed first, in the same session: the SDK checks a result against the tool's
    output schema and otherwise fetches a listing (only its first page) itself, and 2026-07-28
    servers need the listing to map arguments to headers.
    """
    async with _session(server_url, headers, policy, connect_timeout, timeout) as (client, statuses):
        await _all_tools(client, server_url)
        try:
            result = await client.call_tool(name, arguments)
        except Exception as exc:
            if statuses and statuses[-1] >= 400:
                raise
            return "", _reason(exc, headers)
    output = _output_text(result)
    if result.is_error:
        return output, _masked(output, headers) or f"MCP tool {name!r} failed"
    return output, None


@asynccontextmanager
async def _session(server_url: str, headers: dict[str, str], policy: OutboundPolicy, connect_timeout: float,
                   timeout: float) -> AsyncIterator[tuple[Client, list[int]]]:
    """An MCP session, and the HTTP statuses of the POSTs sent so far.

    A status error reaches the SDK's caller as an ``MCPError`` without the status, so the last
    POST's status tells a refusal (401, 404...) apart from an error the server sent in JSON-RPC.
    """
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        if response.request.method == "POST":
            statuses.append(response.status_code)

    async def allowed(request: httpx2.Request) -> None:
        try:
            await policy.check(request.url.host, request.url.port)
        except OutboundRefused as exc:
            raise McpServerError(f"MCP server at {redacted(str(request.url))} may not be reached: {exc}") from None

    try:
        await allowed(httpx2.Request("GET", server_url))
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout, connect=connect_timeout),
                                  verify=_tls_context(), event_hooks={"request": [allowed], "response": [record]})
        with anyio.fail_after(timeout):
            async with AsyncExitStack() as stack:
                if httpx2.URL(server_url).path.rstrip("/").endswith("/sse"):
                    transport = sse_client(server_url, httpx_client_factory=_given(http))
                else:
                    transport = streamable_http_client(server_url, http_client=await stack.enter_async_context(http))
                client = Client(transport, client_info=Implementation(name="orrery", version=__version__))
                yield await stack.enter_async_context(client), statuses
    except Exception as exc:
        raise _failure(exc, server_url, headers, timeout, statuses) from None


@functools.cache
def _given(http: httpx2.AsyncClient) -> Callable[..., httpx2.AsyncClient]:
    """A client factory for the SSE transport that hands it the client already made."""

    def factory(headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                auth: httpx2.Auth | None = None) -> httpx2.AsyncClient:
        return http

    return factory


def _tls_context() -> ssl.SSLContext:
    """One for every session: httpx2 would build one per client, which takes some 20 ms."""
    return httpx2.create_ssl_context()


async def _all_tools(client: Client, server_url: str) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise McpServerError(f"MCP server at {redacted(server_url)} listed more than {MAX_PAGES} pages of tools")


def _listed(tool: Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "input_schema": tool.input_schema,
        "description": tool.description,
        "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else None,
    }


def _output_text(result: CallToolResult) -> str:
    """The result's content as text; its structured content only when no part is text."""
    if result.structured_content is not None and not any(isinstance(p, TextContent) for p in result.content):
        return orjson.dumps(result.structured_content).decode()
    return "\n".join(_part_text(part) for part in result.content)


def _part_text(part: ContentBlock) -> str:
    if isinstance(part, TextContent):
        return part.text
    if isinstance(part, EmbeddedResource):
        if isinstance(part.resource, TextResourceContents):
            return part.resource.text
        return f"[resource {part.resource.uri} ({part.resource.mime_type or 'binary'})]"
    if isinstance(part, ImageContent | AudioContent):
        return f"[{part.type} ({part.mime_type})]"
    return part.model_dump_json(by_alias=True, exclude_none=True)


def _failure(exc: Exception, server_url: str, headers: dict[str, str], timeout: float,
             statuses: list[int]) -> McpServerError:
    while isinstance(exc, ExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, McpServerError):
        return exc
    server = redacted(server_url)
    status = None
    if isinstance(exc, httpx2.HTTPStatusError):
        status = exc.response.status_code
    elif isinstance(exc, MCPError) and statuses and statuses[-1] >= 400:
        status = statuses[-1]
    if status is not None:
        return McpServerError(f"MCP server at {server} answered {status} {httpx2.codes.get_reason_phrase(status)}",
                              status)
    if isinstance(exc, TimeoutError):
        return McpServerError(f"MCP server at {server} did not answer within {timeout:g} s")
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.UnsupportedProtocol):
        return McpServerError(f"could not reach MCP server at {server}: {_reason(exc, headers)}")
    return McpServerError(f"MCP server at {server} failed: {_reason(exc, headers)}")


def _reason(exc: BaseException, headers: dict[str, str]) -> str:
    return _masked(exc.message if isinstance(exc, MCPError) else str(exc) or type(exc).__name__, headers)


def _masked(text: str, headers: dict[str, str]) -> str:
    """The text without the header values, nor any word of 8 characters or more in them (a token)."""
    for value in headers.values():
        for secret in (value, *re.split(r"[\s\x00-\x1f\x7f]+", value)):
            if len(secret) >= 8:
                text = text.replace(secret, "***")
    return text
