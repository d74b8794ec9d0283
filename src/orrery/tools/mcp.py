"""The ``mcp`` tool: a remote MCP server's tools offered to the model as functions.

A response lists each server's tools before its stream starts (an unreachable server is a 424,
as OpenAI answers it) unless its history or its input already holds an ``mcp_list_tools`` item
for that server label, and shows a fresh listing as an ``mcp_list_tools`` item. A call the server's
approval policy lets through runs at once as an ``mcp_call`` item; any other call becomes an
``mcp_approval_request`` that ends the response. The client's ``mcp_approval_response`` in the
next request runs the call (approved) as the first item of that response, or tells the model it
was declined.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

from orrery.errors import APIError
from orrery.ids import new_id
from orrery.recording.tools import ToolInvocationError, ToolRecorder, ToolRecordingNotFound, invoke
from orrery.tools.base import ModelCall, ToolEvent
from orrery.wire.requests import McpTool

PROVIDER = "mcp"
LIST_TOOLS = "mcp_list_tools"
CALL_PREFIX = "mcp_"
APPROVAL_PREFIX = "mcpr_"
DECLINED = "The user declined to run this tool call."
USER_INFO = re.compile(r"//[^/@]*@")


def public_url(server_url: str) -> str:
    """The server URL as errors and recordings show it: without user info, query or fragment,
    which may hold credentials."""
    try:
        parts = urlsplit(server_url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host += f":{parts.port}"
    except ValueError:
        return USER_INFO.sub("//", re.split(r"[?#]", server_url, maxsplit=1)[0])
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def request_headers(headers: dict[str, str] | None, authorization: str | None) -> dict[str, str]:
    """The HTTP headers for an ``mcp`` tool: its ``headers``, with ``authorization`` as a bearer token."""
    result = dict(headers or {})
    if authorization:
        result = {name: value for name, value in result.items() if name.lower() != "authorization"}
        result["Authorization"] = f"Bearer {authorization}"
    return result


def _arguments(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise ToolInvocationError(f"the model's arguments are not JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise ToolInvocationError("the model's arguments are not a JSON object")
    return parsed


def _matches(names: list[str] | None, read_only: bool | None, tool: dict[str, Any]) -> bool:
    """Whether a tool filter (``tool_names`` and/or ``read_only``) selects ``tool``."""
    if names is None and read_only is None:
        return False
    if names is not None and tool["name"] not in names:
        return False
    hint = bool((tool.get("annotations") or {}).get("readOnlyHint"))
    return read_only is None or hint == read_only


def allowed(tool_config: McpTool, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed tools the request lets the model call."""
    rule = tool_config.allowed_tools
    if rule is None:
        return tools
    if isinstance(rule, list):
        return [tool for tool in tools if tool["name"] in rule]
    if rule.tool_names is None and rule.read_only is None:
        return tools
    return [tool for tool in tools if _matches(rule.tool_names, rule.read_only, tool)]


def needs_approval(tool_config: McpTool, tool: dict[str, Any]) -> bool:
    """OpenAI's default is to ask: only ``never`` (for all, or for the tools it names) lets a call run."""
    rule = tool_config.require_approval
    if rule is None or rule == "always":
        return True
    if rule == "never":
        return False
    if rule.never is not None and _matches(rule.never.tool_names, rule.never.read_only, tool):
        return False
    return True


def chat_function(tool: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


INTERNAL_ERROR = -32603
"""JSON-RPC's code for a failure on the way to or inside the server, when no HTTP status says more."""


def call_error(exc: ToolInvocationError) -> dict[str, Any]:
    """A call that never produced a tool result, as OpenAI types its error."""
    if exc.status:
        return {"type": "http_error", "code": exc.status, "message": str(exc)}
    return {"type": "mcp_protocol_error", "code": INTERNAL_ERROR, "message": str(exc)}


def replayed_call(item: dict[str, Any]) -> tuple[ModelCall, Any]:
    """A stored ``mcp_call`` as the model's call and the tool message it was answered with."""
    call = ModelCall(item["id"].removeprefix(CALL_PREFIX), item["name"], item.get("arguments") or "")
    return call, answer_text(item)


def answer_text(item: dict[str, Any]) -> str:
    if item.get("status") == "completed":
        return item.get("output") or ""
    error = item.get("error") or {}
    if error.get("type") == "mcp_tool_execution_error":
        detail = " ".join(part.get("text", "") for part in error.get("content") or [] if isinstance(part, dict))
    else:
        detail = error.get("message", "")
    return f"The tool call failed: {detail}" if detail else "The tool call failed."


@dataclass
class McpServer:
    """One ``mcp`` tool of a request: where its server is, and what it offers the model."""

    config: McpTool
    headers: dict[str, str]
    tools: list[dict[str, Any]]
    """Every tool the server listed, as ``McpListToolsTool``."""
    listed_now: bool
    """Listed for this response (shown as an ``mcp_list_tools`` item) rather than found in its history."""
    offered: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.offered = allowed(self.config, self.tools)

    @property
    def label(self) -> str:
        return self.config.server_label

    def list_item(self) -> dict[str, Any]:
        return {"id": new_id("mcpl"), "type": "mcp_list_tools", "server_label": self.label, "tools": self.tools}


async def list_server_tools(recorder: ToolRecorder | None, config: McpTool, headers: dict[str, str],
                            position: int) -> list[dict[str, Any]]:
    """The server's tools; a server that cannot be listed is the request's 424, before any stream."""
    assert config.server_url is not None
    from orrery.tools import mcp_client  # the MCP SDK takes 0.4 s to import: only MCP requests pay for it

    async def listing() -> list[dict[str, Any]]:
        try:
            return await mcp_client.list_tools(config.server_url, headers)
        except mcp_client.McpServerError as exc:
            raise ToolInvocationError(str(exc), exc.status) from exc

    try:
        return await invoke(recorder, PROVIDER, LIST_TOOLS, {"server_url": public_url(config.server_url)}, listing)
    except (ToolInvocationError, ToolRecordingNotFound) as exc:
        raise APIError(f"Error retrieving tool list from MCP server: '{config.server_label}'. {exc}",
                       status_code=424, error_type="external_connector_error", param=f"tools[{position}]",
                       code="http_error") from exc


class McpRunner:
    """Runs the model's calls of every MCP server of one request."""

    def __init__(self, servers: list[McpServer], recorder: ToolRecorder | None,
                 approved: dict[str, str] | None = None) -> None:
        """``approved``: call id → approval request id of calls the client approved in this request."""
        self.servers = servers
        self.recorder = recorder
        self.approved = approved or {}
        self._by_name = {tool["name"]: server for server in reversed(servers) for tool in server.offered}

    def chat_functions(self, server_label: str) -> list[dict[str, Any]]:
        server = next(s for s in self.servers if s.label == server_label)
        return [chat_function(tool) for tool in server.offered]

    def offers(self, function_name: str) -> bool:
        return function_name in self._by_name

    def _tool(self, name: str) -> tuple[McpServer, dict[str, Any]]:
        server = self._by_name[name]
        return server, next(tool for tool in server.offered if tool["name"] == name)

    def start_item(self, call: ModelCall) -> dict[str, Any]:
        server, tool = self._tool(call.name)
        approval = self.approved.get(call.call_id)
        if approval is None and needs_approval(server.config, tool):
            return {"id": APPROVAL_PREFIX + call.call_id, "type": "mcp_approval_request",
                    "server_label": server.label, "name": call.name, "arguments": call.arguments}
        return {"id": CALL_PREFIX + call.call_id, "type": "mcp_call", "server_label": server.label,
                "name": call.name, "arguments": call.arguments, "status": "in_progress", "output": None,
                "error": None, "approval_request_id": approval}

    async def run(self, call: ModelCall, item: dict[str, Any]) -> AsyncIterator[ToolEvent]:
        if item["type"] != "mcp_call":
            return
        yield "response.mcp_call.in_progress", {}
        if call.arguments:
            yield "response.mcp_call_arguments.delta", {"delta": call.arguments}
        yield "response.mcp_call_arguments.done", {"arguments": call.arguments}
        server, _ = self._tool(call.name)
        try:
            result = await self._call(server, call)
        except ToolInvocationError as exc:
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
        """The tool's ``{"output", "error"}``; raises ``ToolInvocationError`` when there is no result."""
        assert server.config.server_url is not None
        arguments = _arguments(call.arguments)
        from orrery.tools import mcp_client  # see list_server_tools

        async def calling() -> dict[str, Any]:
            try:
                output, error = await mcp_client.call_tool(server.config.server_url, server.headers, call.name,
                                                           arguments)
            except mcp_client.McpServerError as exc:
                raise ToolInvocationError(str(exc), exc.status) from exc
            return {"output": output, "error": error}

        return await invoke(self.recorder, PROVIDER, call.name,
                            {"server_url": public_url(server.config.server_url), "arguments": arguments}, calling)

    def answer(self, item: dict[str, Any]) -> Any:
        if item["type"] != "mcp_call":
            return None
        return answer_text(item)
