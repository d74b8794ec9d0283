"""Responses items → chat-completion messages and request body, in the exact shapes of the seeds.

Items are the JSON dicts we store: input items as the client sent them, output items as we built
them. A user message given as a string stays a string; content parts become chat parts.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterable

from orrery.responses.citations import with_markers
from orrery.tools import file_search as knowledge_search
from orrery.tools import mcp, web_search
from orrery.tools.history import REPLAYED_CALLS
from orrery.wire.requests import AllowedTool, CreateResponseRequest, FunctionChoice, HostedToolChoice, Tool

McpFunctions = Callable[[str], list[dict[str, Any]]]
CHAT_ROLE = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def _chat_part(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _part_text(part)}
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"]}
    if kind == "input_image":
        url = part.get("image_url") or part.get("file_id")
        return {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail", "auto")}}
    if kind == "input_file":
        file: dict[str, Any] = {}
        for key in ("file_data", "file_id", "filename"):
            if part.get(key):
                file[key] = part[key]
        return {"type": "file", "file": file}
    return None


def _part_text(part: dict[str, Any]) -> str:
    """A part's text; an answer's citations go back in as the markers the model wrote."""
    if part.get("annotations"):
        return with_markers(part.get("text") or "", part["annotations"])
    return part.get("text") or part.get("refusal") or ""


def _text_of(parts: Iterable[dict[str, Any]]) -> str:
    return "".join(_part_text(p) for p in parts)


def _message(item: dict[str, Any], assistant_parts: bool) -> dict[str, Any]:
    role = CHAT_ROLE[item["role"]]
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role == "assistant":
        if assistant_parts:
            return {"role": role, "content": [{"type": "text", "text": _text_of([part])} for part in content]}
        return {"role": role, "content": _text_of(content)}
    parts = [p for p in (_chat_part(part) for part in content) if p is not None]
    if role == "system":
        return {"role": role, "content": _text_of(parts)}
    return {"role": role, "content": parts}


def _tool_output(output: Any) -> Any:
    if isinstance(output, str):
        return output
    return [p for p in (_chat_part(part) for part in output) if p is not None]


def items_to_messages(instructions: str | None, history: list[dict[str, Any]], new_input: list[dict[str, Any]],
                      *, history_in_parts: bool = False) -> list[dict[str, Any]]:
    """Chat messages for the history and the new input; consecutive function calls share one
    assistant turn.

    ``history_in_parts``: a conversation's assistant messages go upstream as lists of text parts,
    while a ``previous_response_id`` chain's go as strings (both as the seed recordings show).
    """
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    pending_calls: dict[str, Any] | None = None
    answered: list[dict[str, Any]] = []

    def add_call(call_id: str, name: str, arguments: str) -> None:
        nonlocal pending_calls
        if pending_calls is None:
            pending_calls = {"role": "assistant", "content": "", "tool_calls": []}
            messages.append(pending_calls)
        calls = pending_calls["tool_calls"]
        calls.append({"index": len(calls), "id": call_id, "type": "function",
                      "function": {"name": name, "arguments": arguments}})

    approval_requests: dict[str, dict[str, Any]] = {}
    for position, item in enumerate(chain(history, new_input)):
        kind = item.get("type", "message")
        if kind == "mcp_approval_request":
            approval_requests[item["id"]] = item
            continue
        asked = approval_requests.get(item.get("approval_request_id", "")) if kind == "mcp_approval_response" else None
        if asked is not None and not item.get("approve"):
            call_id = asked["id"].removeprefix(mcp.APPROVAL_PREFIX)
            add_call(call_id, asked["name"], asked["arguments"])
            answered.append({"role": "tool", "tool_call_id": call_id, "content": mcp.DECLINED})
            continue
        if kind == "function_call":
            add_call(item["call_id"], item["name"], item["arguments"])
            continue
        replay = REPLAYED_CALLS.get(kind)
        if replay is not None:
            call, content = replay(item)
            add_call(call.call_id, call.name, call.arguments)
            answered.append({"role": "tool", "tool_call_id": call.call_id, "content": content})
            continue
        messages.extend(answered)
        answered = []
        pending_calls = None
        if kind == "message":
            messages.append(_message(item, history_in_parts and position < len(history)))
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": _tool_output(item["output"])})
    messages.extend(answered)
    return messages


def _response_format(request: CreateResponseRequest) -> dict[str, Any] | None:
    fmt = request.text.format if request.text else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.description is not None:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def _tool_name(tool: Tool | AllowedTool | HostedToolChoice | FunctionChoice) -> str:
    if tool.type == "file_search":
        return knowledge_search.FUNCTION_NAME
    if tool.type.startswith("web_search"):
        return web_search.FUNCTION_NAME
    if tool.type == "mcp":
        return f"mcp:{tool.server_label}"
    return tool.name


def _chat_tools_of(tool: Tool, mcp_functions: McpFunctions) -> list[dict[str, Any]]:
    if tool.type == "file_search":
        return [knowledge_search.KNOWLEDGE_SEARCH]
    if tool.type.startswith("web_search"):
        return [web_search.WEB_SEARCH]
    if tool.type == "mcp":
        return mcp_functions(tool.server_label)
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return [{"type": "function", "function": function}]


def _chat_tools(request: CreateResponseRequest, mcp_functions: McpFunctions) -> tuple[list[dict[str, Any]], Any]:
    """Tools in chat shape (``file_search`` offered as the ``knowledge_search`` function, web search
    as ``web_search``) and the chat ``tool_choice``.

    ``allowed_tools`` narrows the offered tools to the allowed ones, which every backend
    understands, rather than relying on the newer chat ``allowed_tools`` choice.
    """
    tools = request.tools or []
    choice = request.tool_choice
    chat_choice: Any = None
    if isinstance(choice, str):
        chat_choice = choice
    elif choice is not None and choice.type == "mcp":
        chat_choice = {"type": "function", "function": {"name": choice.name}} if choice.name else "required"
    elif choice is not None and choice.type != "allowed_tools":
        chat_choice = {"type": "function", "function": {"name": _tool_name(choice)}}
    elif choice is not None:
        allowed = {_tool_name(t) for t in choice.tools}
        tools = [t for t in tools if _tool_name(t) in allowed]
        chat_choice = choice.mode
    return [function for tool in tools for function in _chat_tools_of(tool, mcp_functions)], chat_choice


def _no_mcp_functions(server_label: str) -> list[dict[str, Any]]:
    return []


def chat_request_body(request: CreateResponseRequest, upstream_model: str, messages: list[dict[str, Any]],
                      mcp_functions: McpFunctions = _no_mcp_functions) -> dict[str, Any]:
    """The upstream chat-completions body; only parameters the client set are sent.

    ``mcp_functions`` gives the functions an ``mcp`` tool offers, by server label.
    """
    body: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    response_format = _response_format(request)
    if response_format is not None:
        body["response_format"] = response_format
    if request.include and "message.output_text.logprobs" in request.include:
        body["logprobs"] = True
    if request.top_logprobs is not None:
        body["logprobs"] = True
        body["top_logprobs"] = request.top_logprobs
    for key in ("user", "safety_identifier", "prompt_cache_key"):
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    chat_tools, chat_choice = _chat_tools(request, mcp_functions)
    if chat_tools:
        body["tools"] = chat_tools
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if chat_choice is not None and chat_tools:
        body["tool_choice"] = chat_choice
    return body
