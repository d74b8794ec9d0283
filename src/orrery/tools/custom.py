"""Custom tools: a client's tool whose input is free text (or text of a grammar) rather than JSON.

The model is offered a function with one string parameter, ``input``; its call comes back as a
``custom_tool_call`` item with OpenAI's ``response.custom_tool_call_input.delta/done`` events,
and the client's ``custom_tool_call_output`` is shown to the model as that call's ``tool``
message. A grammar (``lark`` or ``regex``) is shown to the model in the function's description; a
``regex`` is also the ``pattern`` of the ``input`` parameter's JSON schema, which upstreams that
constrain a call's arguments to its schema enforce: the embedded llama.cpp model when the call is
forced, vLLM with guided decoding of tool calls (named or ``required`` tool choice). No upstream
here takes a lark grammar for one argument, so a lark grammar is only described.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from orrery.tools.base import (
    ChatFunction,
    Item,
    ModelCall,
    PreparedTools,
    Replay,
    RequestTools,
    ToolKind,
    qualified_name,
    string_argument,
)
from orrery.tools.client_calls import CallItem, ClientFunction, offered_by_each_entry
from orrery.wire.common import Identifier, LenientModel, StrictModel

ITEM_PREFIX = "ctc_"


class TextFormat(StrictModel):
    type: Literal["text"]


class GrammarFormat(StrictModel):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: str


class CustomTool(StrictModel):
    type: Literal["custom"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    format: Annotated[TextFormat | GrammarFormat, Field(discriminator="type")] | None = None
    defer_loading: bool | None = None
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None
    async_: bool | None = Field(default=None, alias="async")


class CustomToolCallItem(LenientModel):
    type: Literal["custom_tool_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: str
    namespace: str | None = None
    id: Identifier | None = None


class CustomToolCallOutputItem(LenientModel):
    type: Literal["custom_tool_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[dict[str, Any]]
    id: Identifier | None = None


def _description(tool: CustomTool) -> str:
    parts = [tool.description] if tool.description else []
    if isinstance(tool.format, GrammarFormat):
        parts.append(f"The input must match this {tool.format.syntax} grammar:\n{tool.format.definition}")
    return "\n\n".join(parts)


def chat_function(tool: CustomTool, namespace: str | None = None) -> ChatFunction:
    """The function offered for ``tool``: one string parameter, the tool's whole input."""
    text: dict[str, Any] = {"type": "string"}
    if isinstance(tool.format, GrammarFormat) and tool.format.syntax == "regex":
        text["pattern"] = tool.format.definition
    function: dict[str, Any] = {
        "name": qualified_name(namespace, tool.name),
        "parameters": {"type": "object", "properties": {"input": text}, "required": ["input"]},
    }
    description = _description(tool)
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


def call_item(tool_name: str, namespace: str | None = None) -> Any:
    """How a call of the function offered for a custom tool becomes its ``custom_tool_call``."""

    def build(call: ModelCall) -> CallItem:
        text = string_argument(call.arguments, "input")
        item: Item = {"id": ITEM_PREFIX + call.call_id, "type": "custom_tool_call", "call_id": call.call_id,
                      "name": tool_name, "input": text}
        if namespace:
            item["namespace"] = namespace
        return item, (("response.custom_tool_call_input.delta", {"delta": text}),
                      ("response.custom_tool_call_input.done", {"input": text}))

    return build


def client_function(tool: CustomTool, namespace: str | None = None) -> ClientFunction:
    return ClientFunction(chat_function(tool, namespace), call_item(tool.name, namespace))


def replayed(item: Item) -> Replay:
    if item["type"] == "custom_tool_call":
        arguments = json.dumps({"input": item["input"]}, ensure_ascii=False)
        call = ModelCall(item["call_id"], qualified_name(item.get("namespace"), item["name"]), arguments)
        return Replay(calls=((call, None),))
    return Replay(answers=((item["call_id"], item["output"]),))


class CustomKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("custom",)
    tool_model = CustomTool
    item_models = (CustomToolCallItem, CustomToolCallOutputItem)
    item_id_prefixes: ClassVar[dict[str, str]] = {"custom_tool_call": "ctc", "custom_tool_call_output": "ctco"}

    @classmethod
    def key(cls, tool: Any) -> str:
        return str(tool.name)

    @classmethod
    def replayer(cls) -> Any:
        return replayed

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        return offered_by_each_entry(request, lambda tool: [client_function(tool)])
