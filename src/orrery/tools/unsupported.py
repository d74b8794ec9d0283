"""Tools of OpenAI's that this server does not run (``computer``, ``code_interpreter``…).

Their entries validate whatever fields they carry, so that a request naming one is refused by
this kind, with a 400 ``unsupported_tool`` that names the entry and says why (the reason is the
one in ``orrery.wire.policy``), rather than with a validation error about a field.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from orrery.errors import InvalidRequest
from orrery.tools.base import PreparedTools, RequestTools, ToolKind
from orrery.wire.common import LenientModel
from orrery.wire.policy import REFUSED_TOOL_TYPES, TOOLS


class UnsupportedTool(LenientModel):
    """An entry of a tool type this server does not run, with the SDK's fields for it, any of them."""

    type: Literal["computer", "computer_use_preview", "code_interpreter", "programmatic_tool_calling",
                  "image_generation"]


class UnsupportedKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = REFUSED_TOOL_TYPES
    tool_model = UnsupportedTool

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        if not request.entries:
            return None
        position, tool = request.entries[0]
        raise InvalidRequest(
            f"Unsupported tool: 'tools[{position}]' is a '{tool.type}' tool, which this server does not run: "
            f"{TOOLS[tool.type].reason}.",
            param=f"tools[{position}]", code="unsupported_tool",
        )
