"""Request models of the ``mcp`` tool and of the items it owns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints

from orrery.wire.common import Identifier, LenientModel, StrictModel


class McpToolFilter(StrictModel):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(StrictModel):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(StrictModel):
    """A remote MCP server whose tools the model may call; ``headers`` and ``authorization`` are
    secrets: used to reach the server, never stored, echoed or recorded."""

    type: Literal["mcp"]
    server_label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    server_url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s\x00]+$")] | None = None
    connector_id: str | None = None
    server_description: str | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    defer_loading: bool | None = None


SECRET_FIELDS = ("headers", "authorization")
"""Fields of an ``mcp`` tool that reach the MCP server only: never stored or shown."""


class McpCallItem(LenientModel):
    type: Literal["mcp_call"]
    id: Identifier
    server_label: str
    name: str
    arguments: str
    status: str | None = None
    output: str | None = None
    error: dict[str, Any] | str | None = None


class McpApprovalRequestItem(LenientModel):
    type: Literal["mcp_approval_request"]
    id: Identifier
    server_label: str
    name: str
    arguments: str


class McpListedTool(LenientModel):
    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    annotations: dict[str, Any] | None = None


class McpListToolsItem(LenientModel):
    type: Literal["mcp_list_tools"]
    id: Identifier
    server_label: str
    tools: list[McpListedTool]
    error: str | None = None


class McpApprovalResponseItem(LenientModel):
    """The client's answer to an ``mcp_approval_request``: the call runs in this response if approved."""

    type: Literal["mcp_approval_response"]
    id: Identifier | None = None
    approval_request_id: Identifier
    approve: StrictBool
    reason: str | None = None
