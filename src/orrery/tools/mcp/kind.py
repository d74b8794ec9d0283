"""The ``mcp`` kind of tool: everything a request's ``mcp`` tools need is checked and fetched before
its stream starts (server tool listings, or those its history already holds, and the calls the
client approved); stored MCP items are shown to the model again as the calls they were."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from pydantic import BaseModel

from orrery.errors import InvalidRequest
from orrery.outbound import OutboundPolicy
from orrery.tools.base import (
    Item,
    ModelCall,
    OpeningItem,
    PreparedTools,
    Replay,
    RequestTools,
    ToolEvent,
    ToolKind,
    ToolSetup,
    ToolTransport,
)
from orrery.tools.mcp.models import (
    SECRET_FIELDS,
    McpApprovalRequestItem,
    McpApprovalResponseItem,
    McpCallItem,
    McpListToolsItem,
    McpTool,
)
from orrery.tools.mcp.runner import McpRunner, answer_text
from orrery.tools.mcp.servers import (
    APPROVAL_PREFIX,
    CALL_PREFIX,
    DECLINED,
    McpServer,
    chat_function,
    list_server_tools,
    request_headers,
)
from orrery.tools.mcp.transport import McpSdkTransport
from orrery.urls import redacted

LISTING_EVENTS: tuple[ToolEvent, ...] = (("response.mcp_list_tools.in_progress", {}),
                                         ("response.mcp_list_tools.completed", {}))


def _check_configs(entries: list[tuple[int, McpTool]]) -> None:
    labels: set[str] = set()
    for position, tool in entries:
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


def _known_listings(context: list[Item]) -> dict[str, list[Item]]:
    """The latest tool listing of each server label the history or the new input shows."""
    return {item["server_label"]: item.get("tools") or [] for item in context
            if item.get("type") == "mcp_list_tools" and not item.get("error")}


class McpHistory:
    """Shows one history's MCP items to the model: calls as they ran, declined approvals as calls
    answered with the refusal; the rest as nothing."""

    def __init__(self) -> None:
        self._requests: dict[str, Item] = {}

    def __call__(self, item: Item) -> Replay:
        kind = item.get("type")
        if kind == "mcp_approval_request":
            self._requests[item["id"]] = item
            return Replay(ends_turn=False)
        if kind == "mcp_call":
            call = ModelCall(item["id"].removeprefix(CALL_PREFIX), item["name"], item.get("arguments") or "")
            return Replay(calls=((call, answer_text(item)),))
        asked = self._requests.get(item.get("approval_request_id", "")) if kind == "mcp_approval_response" else None
        if asked is not None and not item.get("approve"):
            call = ModelCall(asked["id"].removeprefix(APPROVAL_PREFIX), asked["name"], asked["arguments"])
            return Replay(calls=((call, DECLINED),))
        return Replay()


class McpKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("mcp",)
    tool_model = McpTool
    item_models = (McpCallItem, McpApprovalRequestItem, McpListToolsItem, McpApprovalResponseItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"mcp_approval_response": "mcpa"}
    call_item_types = frozenset({"mcp_call", "mcp_approval_request"})

    def __init__(self, transport: ToolTransport) -> None:
        self.transport = transport

    @classmethod
    def start(cls, setup: ToolSetup) -> McpKind:
        return cls(setup.wrap_transport(McpSdkTransport(OutboundPolicy(setup.settings.outbound_allow))))

    @classmethod
    def key(cls, tool: Any) -> str:
        return f"mcp:{tool.server_label}"

    @classmethod
    def echoed(cls, tool: BaseModel) -> dict[str, Any]:
        """Without its credentials: ``headers``, ``authorization``, and those of its URL."""
        shown = tool.model_dump(exclude_none=True, exclude=set(SECRET_FIELDS))
        if isinstance(shown.get("server_url"), str):
            shown["server_url"] = redacted(shown["server_url"])
        return shown

    @classmethod
    def replayer(cls) -> McpHistory:
        return McpHistory()

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        entries: list[tuple[int, McpTool]] = request.entries
        answers = [(position, item) for position, item in enumerate(request.input_items)
                   if item.get("type") == "mcp_approval_response"]
        if not entries:
            if answers:
                raise InvalidRequest("An mcp_approval_response needs the mcp tool of its server in 'tools'.",
                                     param="tools", code="missing_required_parameter")
            return None
        _check_configs(entries)
        context = [*request.history, *request.input_items]
        known = _known_listings(context)
        headers = {tool.server_label: request_headers(tool.headers, tool.authorization) for _, tool in entries}
        to_list = [(position, tool) for position, tool in entries if tool.server_label not in known]
        listed = await asyncio.gather(*(list_server_tools(self.transport, tool, headers[tool.server_label], position)
                                        for position, tool in to_list))
        fresh = {tool.server_label: tools for (_, tool), tools in zip(to_list, listed, strict=True)}
        listings = {**known, **fresh}
        servers = [McpServer(tool, headers[tool.server_label], listings[tool.server_label],
                             listed_now=tool.server_label in fresh) for _, tool in entries]
        approved, calls = self._approved_calls(answers, context, servers)
        listing_items = [server.list_item() for server in servers if server.listed_now]
        return PreparedTools(
            functions={position: [chat_function(tool) for tool in server.offered]
                       for (position, _), server in zip(entries, servers, strict=True)},
            runner=McpRunner(servers, self.transport, approved),
            opening_items=[OpeningItem(item, {**item, "tools": []}, LISTING_EVENTS) for item in listing_items],
            opening_calls=calls,
        )

    @staticmethod
    def _approved_calls(answers: list[tuple[int, Item]], context: list[Item],
                        servers: list[McpServer]) -> tuple[dict[str, str], list[ModelCall]]:
        """The calls the client's approval responses approve (call id → approval request id), checked."""
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
                raise InvalidRequest(f"The approved call '{asked['name']}' of MCP server '{asked['server_label']}' "
                                     "is not among this request's mcp tools.", param=f"input[{position}]",
                                     code="invalid_value")
            if answer["approve"]:
                call_id = asked["id"].removeprefix(APPROVAL_PREFIX)
                approved[call_id] = asked["id"]
                calls.append(ModelCall(call_id, asked["name"], asked["arguments"]))
        return approved, calls
