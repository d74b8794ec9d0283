"""The MCP servers themselves, reached through the MCP SDK."""

from __future__ import annotations

from typing import Any

from orrery.outbound import OutboundPolicy
from orrery.tools.base import ToolError, ToolInvocation
from orrery.tools.mcp.servers import McpReach


class McpSdkTransport:
    """Lists a server's tools or calls one; the SDK is imported on the first use, as it takes 0.4 s
    to import and only requests with an ``mcp`` tool need it."""

    def __init__(self, policy: OutboundPolicy) -> None:
        """``policy``: where the servers may be (each request, redirects included, is checked)."""
        self.policy = policy

    async def invoke(self, invocation: ToolInvocation) -> Any:
        from orrery.tools.mcp import client

        reach = invocation.reach
        assert isinstance(reach, McpReach)
        try:
            if reach.listing:
                return await client.list_tools(reach.server_url, reach.headers, self.policy)
            output, error = await client.call_tool(reach.server_url, reach.headers, self.policy, invocation.tool_name,
                                                   invocation.kwargs["arguments"])
        except client.McpServerError as exc:
            raise ToolError(str(exc), exc.status) from exc
        return {"output": output, "error": error}
