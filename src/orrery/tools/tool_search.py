"""Tool search the client runs (``{"type": "tool_search", "execution": "client"}``).

The model is offered a function ``tool_search`` with the tool's ``parameters`` (a ``query`` string
when it gives none) and ``description``; its call comes back as a ``tool_search_call`` item
(``arguments`` as a JSON object, ``execution: "client"``). The client searches its tools and sends
a ``tool_search_output`` whose ``tools`` are the definitions it loads: the model reads a listing
of their names and descriptions as the call's ``tool`` message.

On OpenAI, tools marked ``defer_loading`` are hidden from the model until a search loads them.
Here every tool of the request's ``tools`` is offered from the first turn, deferred or not, so
the tools a search loads are callable on the next turn if they are in ``tools``. Server-run tool
search (``execution: "server"``, the default) is refused: this server searches nothing itself.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from orrery.errors import InvalidRequest
from orrery.tools.base import (
    SHOWN_AS_NOTHING,
    ChatFunction,
    Item,
    ModelCall,
    PreparedTools,
    Replay,
    Replayer,
    RequestTools,
    ToolKind,
    qualified_name,
)
from orrery.tools.client_calls import CallItem, ClientCallRunner, ClientFunction, arguments_of
from orrery.wire.common import Identifier, LenientModel, StrictModel

FUNCTION_NAME = "tool_search"
ITEM_PREFIX = "tsc_"
DESCRIPTION = "Search for more tools to use; the tools found become available to call."
DEFAULT_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {"query": {"type": "string"}},
                                      "required": ["query"]}


class ToolSearchTool(StrictModel):
    type: Literal["tool_search"]
    execution: Literal["server", "client"] | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolSearchCallItem(LenientModel):
    type: Literal["tool_search_call"]
    arguments: Any
    call_id: str | None = Field(default=None, min_length=1)
    execution: Literal["server", "client"] | None = None
    id: Identifier | None = None


class ToolSearchOutputItem(LenientModel):
    type: Literal["tool_search_output"]
    tools: list[dict[str, Any]]
    call_id: str | None = Field(default=None, min_length=1)
    execution: Literal["server", "client"] | None = None
    id: Identifier | None = None


def chat_function(tool: ToolSearchTool) -> ChatFunction:
    return {"type": "function", "function": {
        "name": FUNCTION_NAME, "description": tool.description or DESCRIPTION,
        "parameters": tool.parameters if tool.parameters is not None else DEFAULT_PARAMETERS}}


def build(call: ModelCall) -> CallItem:
    item: Item = {"id": ITEM_PREFIX + call.call_id, "type": "tool_search_call", "call_id": call.call_id,
                  "arguments": arguments_of(call), "execution": "client", "status": "in_progress"}
    return item, ()


def _entry(name: str, description: Any) -> str:
    return f"- {name}: {description}" if isinstance(description, str) and description else f"- {name}"


def _listed(tool: dict[str, Any], namespace: str | None = None) -> list[str]:
    """A loaded tool's lines in the listing, by the name the model calls it by."""
    kind = tool.get("type")
    name = tool.get("name") if isinstance(tool.get("name"), str) else None
    if kind == "namespace" and name:
        lines = [_entry(f"{name} (a group of tools)", tool.get("description"))]
        for inner in tool.get("tools") or ():
            if isinstance(inner, dict):
                lines += ["  " + line for line in _listed(inner, name)]
        return lines
    if kind in ("function", "custom") and name:
        return [_entry(qualified_name(namespace, name), tool.get("description"))]
    if kind == "mcp" and isinstance(tool.get("server_label"), str):
        return [_entry(f"the tools of MCP server {tool['server_label']}", tool.get("server_description"))]
    return [f"- {kind}"] if isinstance(kind, str) else []


def listing(tools: list[dict[str, Any]]) -> str:
    """What the model reads of a search's result: the loaded tools' names and descriptions."""
    lines = [line for tool in tools for line in _listed(tool)]
    if not lines:
        return "No tools were found."
    return "These tools are now available to call:\n" + "\n".join(lines)


class ToolSearchReplay:
    """Shows searches and their results; an output with no ``call_id`` answers the latest search."""

    def __init__(self) -> None:
        self._latest: str | None = None

    def __call__(self, item: Item) -> Replay:
        if item["type"] == "tool_search_call":
            call_id = item.get("call_id") or item["id"]
            self._latest = call_id
            asked = item["arguments"]
            arguments = asked if isinstance(asked, str) else json.dumps(asked, ensure_ascii=False)
            return Replay(calls=((ModelCall(call_id, FUNCTION_NAME, arguments), None),))
        call_id = item.get("call_id") or self._latest
        if call_id is None:
            return SHOWN_AS_NOTHING
        return Replay(answers=((call_id, listing(item["tools"])),))


class ToolSearchKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("tool_search",)
    tool_model = ToolSearchTool
    item_models = (ToolSearchCallItem, ToolSearchOutputItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"tool_search_call": "tsc", "tool_search_output": "tso"}

    @classmethod
    def replayer(cls) -> Replayer:
        return ToolSearchReplay()

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        if not request.entries:
            return None
        for position, tool in request.entries:
            if tool.execution != "client":
                raise InvalidRequest(
                    "Tool search run by the server (execution 'server', the default) is not supported: this server "
                    "does not search tools itself, and offers the model every tool in 'tools', deferred or not. "
                    "Use execution 'client': tool_search_call items come back to you, and you answer each with a "
                    "tool_search_output listing the tools it loads.",
                    param=f"tools[{position}].execution", code="unsupported_tool")
        position, tool = request.entries[0]
        function = ClientFunction(chat_function(tool), build)
        return PreparedTools(functions={position: [function.chat]},
                             runner=ClientCallRunner({function.name: function}))
