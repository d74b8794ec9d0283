"""The ``mcp`` tool: a remote MCP server's tools offered to the model as functions.

A response lists each server's tools before its stream starts (an unreachable server is a 424,
as OpenAI answers it) unless its history or its input already holds an ``mcp_list_tools`` item
for that server label, and shows a fresh listing as an ``mcp_list_tools`` item. A call the server's
approval policy lets through runs at once as an ``mcp_call`` item; any other call becomes an
``mcp_approval_request`` that ends the response. The client's ``mcp_approval_response`` in the
next request runs the call (approved) as the first item of that response, or tells the model it
was declined.
"""

from orrery.tools.mcp.kind import McpKind
from orrery.tools.mcp.servers import DECLINED

__all__ = ["DECLINED", "McpKind"]
