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


SERVICE_TIER_SHOWN = {"auto": "default", "fast": "priority"}
"""The tier a response shows for the one asked for, as OpenAI resolves them; none asked: ``default``."""

SAMPLING_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "top_logprobs": 0, "presence_penalty": 0.0,
                     "frequency_penalty": 0.0}
"""OpenAI's values of the sampling parameters a request left out: what a response shows for them
(Open Responses requires them as numbers), while nothing is sent upstream for them."""

NOT_SHOWN = frozenset({"include", "client_metadata"})
"""Parameters stored with a response that its object does not show."""


def _reasoning(request: CreateResponseRequest) -> dict[str, Any]:
    reasoning = request.reasoning
    if reasoning is None:
        return {"effort": None, "summary": None}
    shown: dict[str, Any] = {"effort": reasoning.effort, "summary": reasoning.summary}
    for key in ("context", "mode"):
        if getattr(reasoning, key) is not None:
            shown[key] = getattr(reasoning, key)
    return shown


def _effective(request: CreateResponseRequest) -> dict[str, Any]:
    """The accepted-and-echoed parameters a request set, as OpenAI's response shows them: the
    effective setting, which here is the default one (nothing compresses images or caches)."""
    shown: dict[str, Any] = {}
    if request.context_management is not None:
        shown["context_management"] = [entry.model_dump(exclude_none=True) for entry in request.context_management]
    if request.access_programs is not None and request.access_programs.cyber is not None:
        shown["access_programs"] = {"cyber": request.access_programs.cyber}
    if request.image is not None:
        shown["image"] = {"context_compression": "disabled"}
    cache = request.prompt_cache_options
    if cache is not None:
        shown["prompt_cache_options"] = {"mode": cache.mode or "implicit", "ttl": cache.ttl or "30m"}
        if cache.comparison_response_id is not None:
            shown["prompt_cache_options"]["comparison_response_id"] = cache.comparison_response_id
    return shown


def response_params(request: CreateResponseRequest) -> dict[str, Any]:
    """The request-derived fields of a response object; stored, then merged into every snapshot.

    ``include`` and ``client_metadata`` are kept with them (``include`` decides what stored items
    show) but are not response fields.
    """
    params: dict[str, Any] = {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": request.model,
        "conversation": {"id": request.conversation_id} if request.conversation is not None else None,
        "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": request.prompt_cache_key,
        "prompt_cache_retention": request.prompt_cache_retention,
        "reasoning": _reasoning(request),
        "safety_identifier": request.safety_identifier,
        "service_tier": SERVICE_TIER_SHOWN.get(request.service_tier or "auto", request.service_tier),
        "store": request.store,
        "background": bool(request.background),
        "temperature": request.temperature,
        "text": _text_config(request),
        "tool_choice": _tool_choice(request),
        "tools": [echoed(tool) for tool in request.tools or []],
        "top_logprobs": request.top_logprobs,
        "top_p": request.top_p,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "truncation": request.truncation or "disabled",
        "user": request.user,
        "metadata": request.metadata or {},
        "include": request.include or [],
    }
    params.update(_effective(request))
    if request.client_metadata is not None:
        params["client_metadata"] = request.client_metadata
    return params


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
    """``params`` may be those of a response stored before a field was added: the sampling
    parameters are filled in with their defaults."""
    shown = {key: value for key, value in params.items() if key not in NOT_SHOWN}
    for key, default in SAMPLING_DEFAULTS.items():
        if shown.get(key) is None:
            shown[key] = default
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": completed_at,
        "error": error,
        "incomplete_details": incomplete_details,
        **shown,
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
