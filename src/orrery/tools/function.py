"""Function tools: the client's own functions, offered to the model as they are; the client runs
their calls (``function_call`` items) and sends back ``function_call_output`` items."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from orrery.tools.base import ChatFunction, PreparedTools, RequestTools, ToolKind
from orrery.wire.common import StrictModel


class FunctionTool(StrictModel):
    type: Literal["function"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None
    output_schema: dict[str, Any] | None = None
    async_: bool | None = Field(default=None, alias="async")


def chat_function(tool: FunctionTool) -> ChatFunction:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


class FunctionKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("function",)
    tool_model = FunctionTool

    @classmethod
    def key(cls, tool: Any) -> str:
        return str(tool.name)

    @classmethod
    def echoed(cls, tool: BaseModel) -> dict[str, Any]:
        """As OpenAI shows a function tool: ``description``, ``parameters`` and ``strict`` always
        there, ``null`` when not given (Open Responses requires the three keys)."""
        assert isinstance(tool, FunctionTool)
        shown = tool.model_dump(exclude_none=True, by_alias=True)
        return {"type": tool.type, "name": tool.name, "description": tool.description, "parameters": tool.parameters,
                "strict": tool.strict, **shown}

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        if not request.entries:
            return None
        return PreparedTools(functions={position: [chat_function(tool)] for position, tool in request.entries})
