"""A real MCP server for the test-suite, built with the MCP SDK and started as its own process.

``python tests/mcp_server.py --port N [--token T]`` serves streamable HTTP at
``http://127.0.0.1:N/mcp`` and the older SSE transport at ``http://127.0.0.1:N/sse``, and prints
``READY`` once the port accepts connections. With ``--token``, any request without
``Authorization: Bearer T`` is answered 401. ``tools/list`` answers two tools per page, so that
clients' cursor handling is exercised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from typing import Any

import uvicorn
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

PAGE_SIZE = 2

mcp = MCPServer("orrery-test-tools", log_level="WARNING")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@mcp.tool()
def get_weather(city: str) -> str:
    """Tell the current weather in a city."""
    return f"The weather in {city} is sunny, 21°C."


@mcp.tool()
def fail(reason: str) -> str:
    """Always fail, with the given reason."""
    raise ToolError(reason)


@mcp.tool()
async def slow(seconds: float) -> str:
    """Sleep for the given number of seconds, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}s"


async def paginate_tools(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    result = await call_next(ctx)
    if ctx.method != "tools/list" or result is None:
        return result
    listing = result if isinstance(result, dict) else result.model_dump(by_alias=True, mode="json", exclude_none=True)
    start = int((ctx.params or {}).get("cursor") or 0)
    tools = listing["tools"]
    page = {**listing, "tools": tools[start:start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(tools):
        page["nextCursor"] = str(start + PAGE_SIZE)
    return page


mcp.middleware.append(paginate_tools)


class RequireToken:
    """Answer 401 to every HTTP request that lacks ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != self.expected:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": b"missing or wrong bearer token"})
            return
        await self.app(scope, receive, send)


def app(token: str | None) -> ASGIApp:
    application = mcp.streamable_http_app()
    application.router.routes.extend(mcp.sse_app().routes)
    return RequireToken(application, token) if token else application


def serve(port: int, token: str | None) -> None:
    """Serve on the port; it accepts connections (queued until uvicorn is up) once READY is printed."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    print("READY", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn.Config(app(token), log_level="warning", access_log=False)).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", help="require this bearer token on every request")
    arguments = parser.parse_args()
    serve(arguments.port, arguments.token)


if __name__ == "__main__":
    main()
