"""Runs the model's calls of a request's MCP servers, as ``mcp_call`` or ``mcp_approval_request`` items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from orrery.tools.base import Item, ModelCall, ToolError, ToolEvent, ToolInvocation, ToolTransport
from orrery.tools.mcp.servers import (
    APPROVAL_PREFIX,
    CALL_PREFIX,
    PROVIDER,
    McpReach,
    McpServer,
    needs_approval,
)
from orrery.urls import redacted

INTERNAL_ERROR = -32603
"""JSON-RPC's code for a failure on the way to or inside the server, when no HTTP status says more."""


def call_error(exc: ToolError) -> dict[str, Any]:
    """A call that never produced a tool result, as OpenAI types its error."""
    if exc.status:
        return {"type": "http_error", "code": exc.status, "message": str(exc)}
    return {"type": "mcp_protocol_error", "code": INTERNAL_ERROR, "message": str(exc)}


def answer_text(item: Item) -> str:
    """What the model reads for a finished ``mcp_call``."""
    if item.get("status") == "completed":
        return str(item.get("output") or "")
    error = item.get("error") or {}
    if error.get("type") == "mcp_tool_execution_error":
        detail = " ".join(part.get("text", "") for part in error.get("content") or [] if isinstance(part, dict))
    else:
        detail = error.get("message", "")
    return f"The tool call failed: {detail}" if detail else "The tool call failed."


def _arguments(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise ToolError(f"the model's arguments are not JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise ToolError("the model's arguments are not a JSON object")
    return parsed


class McpRunner:
    """Runs the model's calls of every MCP server of one request."""

    def __init__(self, servers: list[McpServer], transport: ToolTransport,
                 approved: dict[str, str] | None = None) -> None:
        """``approved``: call id → approval request id of calls the client approved in this request."""
        self.servers = servers
        self.transport = transport
        self.approved = approved or {}
        self._by_name = {tool["name"]: server for server in reversed(servers) for tool in server.offered}

    def offers(self, function_name: str) -> bool:
        return function_name in self._by_name

    def _tool(self, name: str) -> tuple[McpServer, Item]:
        server = self._by_name[name]
        return server, next(tool for tool in server.offered if tool["name"] == name)

    def start_item(self, call: ModelCall) -> Item:
        server, tool = self._tool(call.name)
        approval = self.approved.get(call.call_id)
        if approval is None and needs_approval(server.config, tool):
            return {"id": APPROVAL_PREFIX + call.call_id, "type": "mcp_approval_request",
                    "server_label": server.label, "name": call.name, "arguments": call.arguments}
        return {"id": CALL_PREFIX + call.call_id, "type": "mcp_call", "server_label": server.label,
                "name": call.name, "arguments": call.arguments, "status": "in_progress", "output": None,
                "error": None, "approval_request_id": approval}

    async def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        if item["type"] != "mcp_call":
            return
        yield "response.mcp_call.in_progress", {}
        if call.arguments:
            yield "response.mcp_call_arguments.delta", {"delta": call.arguments}
        yield "response.mcp_call_arguments.done", {"arguments": call.arguments}
        server, _ = self._tool(call.name)
        try:
            result = await self._call(server, call)
        except ToolError as exc:
            item["status"], item["error"] = "failed", call_error(exc)
        else:
            item["output"] = result["output"]
            if result["error"] is None:
                item["status"] = "completed"
            else:
                item["status"] = "failed"
                item["error"] = {"type": "mcp_tool_execution_error",
                                 "content": [{"type": "text", "text": result["error"]}]}
        yield f"response.mcp_call.{item['status']}", {}

    async def _call(self, server: McpServer, call: ModelCall) -> dict[str, Any]:
        """The tool's ``{"output", "error"}``; raises ``ToolError`` when there is no result."""
        assert server.config.server_url is not None
        arguments = _arguments(call.arguments)
        invocation = ToolInvocation(PROVIDER, call.name,
                                    {"server_url": redacted(server.config.server_url), "arguments": arguments},
                                    reach=McpReach(server.config.server_url, server.headers))
        result: dict[str, Any] = await self.transport.invoke(invocation)
        return result

    def answer(self, item: Item) -> Any:
        if item["type"] != "mcp_call":
            return None
        return answer_text(item)
