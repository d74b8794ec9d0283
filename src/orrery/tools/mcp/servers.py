"""An ``mcp`` tool's server: where it is, how it is reached, which of its tools the model may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orrery.errors import APIError
from orrery.ids import new_id
from orrery.tools.base import ChatFunction, Item, ToolError, ToolInvocation, ToolTransport, ToolUnavailable
from orrery.tools.mcp.models import McpTool
from orrery.urls import redacted

PROVIDER = "mcp"
LIST_TOOLS = "mcp_list_tools"
CALL_PREFIX = "mcp_"
APPROVAL_PREFIX = "mcpr_"
DECLINED = "The user declined to run this tool call."


def request_headers(headers: dict[str, str] | None, authorization: str | None) -> dict[str, str]:
    """The HTTP headers for an ``mcp`` tool: its ``headers``, with ``authorization`` as a bearer token."""
    result = dict(headers or {})
    if authorization:
        result = {name: value for name, value in result.items() if name.lower() != "authorization"}
        result["Authorization"] = f"Bearer {authorization}"
    return result


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


def chat_function(tool: Item) -> ChatFunction:
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


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


@dataclass(frozen=True)
class McpReach:
    """How a server is reached: its URL as given (credentials included) and the request's headers."""

    server_url: str
    headers: dict[str, str]
    listing: bool = False
    """A listing of the server's tools, rather than a call of one."""


async def list_server_tools(transport: ToolTransport, config: McpTool, headers: dict[str, str],
                            position: int) -> list[Item]:
    """The server's tools; a server that cannot be listed is the request's 424, before any stream."""
    assert config.server_url is not None
    invocation = ToolInvocation(PROVIDER, LIST_TOOLS, {"server_url": redacted(config.server_url)},
                                reach=McpReach(config.server_url, headers, listing=True))
    try:
        tools: list[Item] = await transport.invoke(invocation)
    except (ToolError, ToolUnavailable) as exc:
        raise APIError(f"Error retrieving tool list from MCP server: '{config.server_label}'. {exc}",
                       status_code=424, error_type="external_connector_error", param=f"tools[{position}]",
                       code="http_error") from exc
    return tools
