"""Namespace tools: a group of client functions and custom tools under one name (``crm``…).

Their tools are offered to the model flattened, as ``{namespace}__{name}``, so they never collide
with tools of the same name elsewhere; a call comes back in OpenAI's namespace shape: a
``function_call`` (or ``custom_tool_call``) with ``name`` the tool's own and ``namespace`` set.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from orrery.tools import custom, function
from orrery.tools.base import ChatFunction, Item, ModelCall, PreparedTools, RequestTools, ToolKind, qualified_name
from orrery.tools.client_calls import CallItem, ClientFunction, offered_by_each_entry
from orrery.wire.common import StrictModel

FUNCTION_ITEM_PREFIX = "fc_"


class NamespaceTool(StrictModel):
    type: Literal["namespace"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str
    tools: list[Annotated[function.FunctionTool | custom.CustomTool, Field(discriminator="type")]] = Field(min_length=1)


def _function_call(namespace: str, name: str) -> Any:
    def build(call: ModelCall) -> CallItem:
        item: Item = {"id": FUNCTION_ITEM_PREFIX + call.call_id, "type": "function_call", "status": "in_progress",
                      "arguments": call.arguments, "call_id": call.call_id, "name": name, "namespace": namespace}
        events = (("response.function_call_arguments.delta", {"delta": call.arguments}),) if call.arguments else ()
        return item, (*events, ("response.function_call_arguments.done", {"arguments": call.arguments}))

    return build


def _offered(namespace: NamespaceTool, tool: function.FunctionTool) -> ChatFunction:
    chat = function.chat_function(tool)
    chat["function"]["name"] = qualified_name(namespace.name, tool.name)
    description = " ".join(part for part in (f"({namespace.name}: {namespace.description})", tool.description)
                           if part)
    chat["function"]["description"] = description
    return chat


def client_functions(namespace: NamespaceTool) -> list[ClientFunction]:
    functions = []
    for tool in namespace.tools:
        if isinstance(tool, custom.CustomTool):
            functions.append(custom.client_function(tool, namespace.name))
        else:
            functions.append(ClientFunction(_offered(namespace, tool), _function_call(namespace.name, tool.name)))
    return functions


class NamespaceKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("namespace",)
    tool_model = NamespaceTool

    @classmethod
    def key(cls, tool: Any) -> str:
        return f"namespace:{tool.name}"

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        return offered_by_each_entry(request, client_functions)
