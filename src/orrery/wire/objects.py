"""Builders of Responses objects as plain dicts that validate against the openai SDK's types.

No pydantic on the output path: these dicts are serialized once, with orjson.
"""

from __future__ import annotations

from typing import Any

from orrery.ids import new_id
from orrery.tools.registry import ITEM_ID_PREFIXES, echoed
from orrery.wire.items import ITEM_ID_PREFIX, InputItem
from orrery.wire.responses import CreateResponseRequest
from orrery.wire.shapes import ListPage, OutputTextPart, ReasoningTextPart, Usage

ITEM_ID_PREFIXES_ALL = {**ITEM_ID_PREFIX, **ITEM_ID_PREFIXES}


def usage_from_chat(chunk_usage: dict[str, Any]) -> Usage:
    """A chat ``usage`` block in the Responses ``usage`` shape."""
    prompt_details = chunk_usage.get("prompt_tokens_details") or {}
    completion_details = chunk_usage.get("completion_tokens_details") or {}
    input_tokens = int(chunk_usage.get("prompt_tokens") or 0)
    output_tokens = int(chunk_usage.get("completion_tokens") or 0)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": int(prompt_details.get("cached_tokens") or 0),
            "cache_write_tokens": int(prompt_details.get("cache_write_tokens") or 0),
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": int(completion_details.get("reasoning_tokens") or 0)},
        "total_tokens": int(chunk_usage.get("total_tokens") or input_tokens + output_tokens),
    }


def add_usage(total: Usage | None, usage: Usage) -> Usage:
    """Sum two Responses usages field by field, details included."""
    if total is None:
        return usage
    return {
        "input_tokens": total["input_tokens"] + usage["input_tokens"],
        "input_tokens_details": {
            "cached_tokens": total["input_tokens_details"]["cached_tokens"]
            + usage["input_tokens_details"]["cached_tokens"],
            "cache_write_tokens": total["input_tokens_details"]["cache_write_tokens"]
            + usage["input_tokens_details"]["cache_write_tokens"],
        },
        "output_tokens": total["output_tokens"] + usage["output_tokens"],
        "output_tokens_details": {
            "reasoning_tokens": total["output_tokens_details"]["reasoning_tokens"]
            + usage["output_tokens_details"]["reasoning_tokens"],
        },
        "total_tokens": total["total_tokens"] + usage["total_tokens"],
    }


def _text_config(request: CreateResponseRequest) -> dict[str, Any]:
    text: dict[str, Any] = {"format": {"type": "text"}}
    if request.text is not None:
        if request.text.format is not None:
            text["format"] = request.text.format.model_dump(by_alias=True, exclude_none=True)
        if request.text.verbosity is not None:
            text["verbosity"] = request.text.verbosity
    return text


def _tool_choice(request: CreateResponseRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        return choice
    return choice.model_dump(exclude_none=True)


def response_params(request: CreateResponseRequest) -> dict[str, Any]:
    """The request-derived fields of a response object; stored, then merged into every snapshot.

    ``include`` is kept with them (it decides what stored items show) but is not a response field.
    """
    reasoning = request.reasoning
    return {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": request.model,
        "conversation": {"id": request.conversation_id} if request.conversation is not None else None,
        "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": request.prompt_cache_key,
        "reasoning": {"effort": reasoning.effort, "summary": reasoning.summary} if reasoning
        else {"effort": None, "summary": None},
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "default",
        "store": request.store,
        "temperature": request.temperature,
        "text": _text_config(request),
        "tool_choice": _tool_choice(request),
        "tools": [echoed(tool) for tool in request.tools or []],
        "top_logprobs": request.top_logprobs,
        "top_p": request.top_p,
        "truncation": request.truncation or "disabled",
        "user": request.user,
        "metadata": request.metadata or {},
        "include": request.include or [],
    }


def response_object(
    *,
    response_id: str,
    created_at: int,
    status: str,
    params: dict[str, Any],
    output: list[dict[str, Any]],
    usage: Usage | dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": completed_at,
        "error": error,
        "incomplete_details": incomplete_details,
        **{key: value for key, value in params.items() if key != "include"},
        "output": output,
        "usage": usage,
    }


def message_item(item_id: str, status: str = "in_progress",
                 content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "content": content or [], "role": "assistant"}


def output_text_part(text: str = "", logprobs: list[dict[str, Any]] | None = None,
                     annotations: list[dict[str, Any]] | None = None) -> OutputTextPart:
    return {"type": "output_text", "annotations": annotations or [], "logprobs": logprobs or [], "text": text}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str = "",
                       status: str = "in_progress") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "arguments": arguments,
            "call_id": call_id, "name": name}


def reasoning_item(item_id: str, status: str = "in_progress",
                   content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "status": status, "summary": [], "content": content or []}


def reasoning_text_part(text: str = "") -> ReasoningTextPart:
    return {"type": "reasoning_text", "text": text}


def stored_item(model: InputItem) -> dict[str, Any]:
    """A request's input item as stored: as the client sent it, with an id of ours if it had none."""
    item = model.model_dump(exclude_none=True, by_alias=True)
    item.setdefault("id", new_id(ITEM_ID_PREFIXES_ALL.get(item["type"], "item")))
    return item


def input_item_view(item: dict[str, Any]) -> dict[str, Any]:
    """A stored input item as ``input_items.list`` shows it: content always as typed parts."""
    if item.get("type", "message") != "message":
        return {**item, "status": item.get("status", "completed")}
    content = item["content"]
    if item["role"] == "assistant":
        if isinstance(content, str):
            content = [output_text_part(content)]
        else:
            content = [output_text_part(p["text"]) if p.get("type") == "output_text" else p for p in content]
    elif isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    view = {"id": item["id"], "type": "message", "role": item["role"], "content": content,
            "status": item.get("status", "completed")}
    if item.get("phase") is not None:
        view["phase"] = item["phase"]
    return view


def list_page(data: list[dict[str, Any]], has_more: bool) -> ListPage:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
