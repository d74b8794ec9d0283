"""Everything a request's ``mcp`` tools need before its stream starts, checked and fetched up front:
server tool listings (or those its history already holds) and the calls the client approved."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from orrery.errors import InvalidRequest
from orrery.recording.tools import ToolRecorder
from orrery.tools.base import ModelCall, ServerTool
from orrery.tools.mcp import APPROVAL_PREFIX, McpRunner, McpServer, list_server_tools, request_headers
from orrery.wire.requests import CreateResponseRequest, McpTool


@dataclass
class McpSetup:
    runner: McpRunner | None = None
    listings: list[dict[str, Any]] = field(default_factory=list)
    """``mcp_list_tools`` items this response shows first, one per server listed for it."""
    opening_calls: list[tuple[ServerTool, ModelCall]] = field(default_factory=list)
    """Approved calls this response runs before the model's first turn."""

    def chat_functions(self, server_label: str) -> list[dict[str, Any]]:
        return self.runner.chat_functions(server_label) if self.runner is not None else []


def _configs(request: CreateResponseRequest) -> list[tuple[int, McpTool]]:
    configs = [(position, tool) for position, tool in enumerate(request.tools or []) if tool.type == "mcp"]
    labels: set[str] = set()
    for position, tool in configs:
        if tool.server_label in labels:
            raise InvalidRequest(f"Duplicate MCP server_label '{tool.server_label}': each mcp tool needs its own.",
                                 param=f"tools[{position}].server_label", code="invalid_value")
        labels.add(tool.server_label)
        if tool.server_url is None:
            if tool.connector_id is not None:
                raise InvalidRequest("Connectors are not available on this server; give the MCP server's server_url.",
                                     param=f"tools[{position}].connector_id", code="unsupported_parameter")
            raise InvalidRequest("An mcp tool needs a server_url.", param=f"tools[{position}].server_url",
                                 code="missing_required_parameter")
    return configs


def _known_listings(context: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The latest tool listing of each server label the history or the new input shows."""
    return {item["server_label"]: item.get("tools") or [] for item in context
            if item.get("type") == "mcp_list_tools" and not item.get("error")}


async def prepare(request: CreateResponseRequest, history: list[dict[str, Any]], input_items: list[dict[str, Any]],
                  recorder: ToolRecorder | None) -> McpSetup:
    configs = _configs(request)
    answers = [(position, item) for position, item in enumerate(input_items)
               if item.get("type") == "mcp_approval_response"]
    if not configs:
        if answers:
            raise InvalidRequest("An mcp_approval_response needs the mcp tool of its server in 'tools'.",
                                 param="tools", code="missing_required_parameter")
        return McpSetup()
    context = [*history, *input_items]
    known = _known_listings(context)
    headers = {tool.server_label: request_headers(tool.headers, tool.authorization) for _, tool in configs}
    to_list = [(position, tool) for position, tool in configs if tool.server_label not in known]
    listed = await asyncio.gather(*(list_server_tools(recorder, tool, headers[tool.server_label], position)
                                    for position, tool in to_list))
    fresh = {tool.server_label: tools for (_, tool), tools in zip(to_list, listed)}
    listings = {**known, **fresh}
    servers = [McpServer(tool, headers[tool.server_label], listings[tool.server_label],
                         listed_now=tool.server_label in fresh) for _, tool in configs]
    requests = {item["id"]: item for item in context if item.get("type") == "mcp_approval_request"}
    approved: dict[str, str] = {}
    calls: list[ModelCall] = []
    for position, answer in answers:
        asked = requests.get(answer["approval_request_id"])
        if asked is None:
            raise InvalidRequest(f"No mcp_approval_request with id '{answer['approval_request_id']}' in this "
                                 "response's history or input.", param=f"input[{position}].approval_request_id",
                                 code="invalid_value")
        server = next((s for s in servers if s.label == asked["server_label"]), None)
        if server is None or not any(tool["name"] == asked["name"] for tool in server.offered):
            raise InvalidRequest(f"The approved call '{asked['name']}' of MCP server '{asked['server_label']}' is "
                                 "not among this request's mcp tools.", param=f"input[{position}]",
                                 code="invalid_value")
        if answer["approve"]:
            call_id = asked["id"].removeprefix(APPROVAL_PREFIX)
            approved[call_id] = asked["id"]
            calls.append(ModelCall(call_id, asked["name"], asked["arguments"]))
    runner = McpRunner(servers, recorder, approved)
    return McpSetup(runner=runner, listings=[s.list_item() for s in servers if s.listed_now],
                    opening_calls=[(runner, call) for call in calls])
