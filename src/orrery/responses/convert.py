"""Responses items → chat-completion messages and request body, in the exact shapes of the seeds.

Items are the JSON dicts we store: input items as the client sent them, output items as we built
them. A user message given as a string stays a string; content parts become chat parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any

from orrery.tools.base import ChatFunction, qualified_name
from orrery.tools.registry import HistoryReplay, as_written, key_of
from orrery.wire.responses import CreateResponseRequest

Message = dict[str, Any]
"""A chat-completions message."""
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
        return as_written(part.get("text") or "", part["annotations"])
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


def _reasoning_text(item: dict[str, Any]) -> str:
    """A reasoning item's text: its reasoning, else its summary."""
    parts = item.get("content") or item.get("summary") or []
    return "".join(part.get("text") or "" for part in parts if isinstance(part, dict))


def items_to_messages(instructions: str | None, history: list[dict[str, Any]], new_input: list[dict[str, Any]],
                      *, history_in_parts: bool = False, reasoning: bool = False,
                      function_name: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """Chat messages for the history and the new input; consecutive function calls share one
    assistant turn.

    ``history_in_parts``: a conversation's assistant messages go upstream as lists of text parts,
    while a ``previous_response_id`` chain's go as strings (both as the seed recordings show).
    ``reasoning``: reasoning items are shown as ``reasoning_content`` of the assistant message
    that follows them; otherwise the model does not see them. ``function_name``: the name the
    client's function of that name is offered by in this request.
    """
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    pending_calls: dict[str, Any] | None = None
    answered: list[dict[str, Any]] = []
    thought = ""

    def with_thought(message: dict[str, Any]) -> dict[str, Any]:
        nonlocal thought
        if thought:
            message["reasoning_content"], thought = thought, ""
        return message

    def add_call(call_id: str, name: str, arguments: str) -> None:
        nonlocal pending_calls
        if pending_calls is None:
            pending_calls = with_thought({"role": "assistant", "content": "", "tool_calls": []})
            messages.append(pending_calls)
        calls = pending_calls["tool_calls"]
        calls.append({"index": len(calls), "id": call_id, "type": "function",
                      "function": {"name": name, "arguments": arguments}})

    replay = HistoryReplay()
    for position, item in enumerate(chain(history, new_input)):
        kind = item.get("type", "message")
        if kind == "function_call":
            namespace = item.get("namespace")
            name = qualified_name(namespace, item["name"]) if namespace else function_name(item["name"])
            add_call(item["call_id"], name, item["arguments"])
            continue
        replayed = replay(item)
        if replayed is not None and (replayed.calls or not replayed.ends_turn):
            for call, content in replayed.calls:
                add_call(call.call_id, call.name, call.arguments)
                if content is not None:
                    answered.append({"role": "tool", "tool_call_id": call.call_id, "content": content})
            continue
        messages.extend(answered)
        answered = []
        pending_calls = None
        if replayed is not None:
            messages += [{"role": "tool", "tool_call_id": call_id, "content": _tool_output(content)}
                         for call_id, content in replayed.answers]
        elif kind == "message":
            message = _message(item, history_in_parts and position < len(history))
            messages.append(with_thought(message) if message["role"] == "assistant" else message)
        elif kind == "reasoning" and reasoning:
            thought = _reasoning_text(item)
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


def _chat_tools(request: CreateResponseRequest,
                functions: Mapping[int, list[ChatFunction]]) -> tuple[list[ChatFunction], Any]:
    """The functions the request's tools offer, in chat shape, and the chat ``tool_choice``.

    ``allowed_tools`` narrows the offered tools to the allowed ones, which every backend
    understands, rather than relying on the newer chat ``allowed_tools`` choice.
    """
    tools = request.tools or []
    positions = list(range(len(tools)))
    choice = request.tool_choice
    chat_choice: Any = None
    if isinstance(choice, str):
        chat_choice = choice
    elif choice is not None and choice.type == "mcp":
        chat_choice = {"type": "function", "function": {"name": choice.name}} if choice.name else "required"
    elif choice is not None and choice.type != "allowed_tools":
        chat_choice = {"type": "function", "function": {"name": key_of(choice)}}
    elif choice is not None:
        allowed = {key_of(tool) for tool in choice.tools}
        positions = [position for position in positions if key_of(tools[position]) in allowed]
        chat_choice = choice.mode
    return [function for position in positions for function in functions.get(position, ())], chat_choice


def chat_request_body(request: CreateResponseRequest, upstream_model: str, messages: list[Message],
                      functions: Mapping[int, list[ChatFunction]]) -> dict[str, Any]:
    """The upstream chat-completions body; only parameters the client set are sent.

    ``functions``: the chat functions each of the request's tools offers, by its position.
    """
    body: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    for penalty in ("presence_penalty", "frequency_penalty"):
        if getattr(request, penalty) is not None:
            body[penalty] = getattr(request, penalty)
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
    chat_tools, chat_choice = _chat_tools(request, functions)
    if chat_tools:
        body["tools"] = chat_tools
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if chat_choice is not None and chat_tools:
        body["tool_choice"] = chat_choice
    return body
