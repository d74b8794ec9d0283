"""A chat-completions body → the arguments of llama-cpp-python's ``create_chat_completion``.

Checked before anything is queued, so a request the local model cannot take fails at once with
a 400. Parameters llama.cpp has no use for (``user``, ``logprobs``, ``reasoning_effort``, ``n``…)
are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orrery.inference.errors import UpstreamError

NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


@dataclass(frozen=True)
class Sampling:
    """What a GGUF provider's configuration adds to every generation."""

    max_output_tokens: int
    """The cap on the tokens one answer writes when the request sets none."""
    repeat_penalty: float
    """llama.cpp's penalty on tokens among the last 64, against the loops a small model falls into."""


def invalid(message: str, *, param: str | None = None) -> UpstreamError:
    """A 400 in the shape an upstream's would have."""
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return UpstreamError("http", message, status=400, body=body)


def _text(content: Any, where: str) -> str:
    """Message content as the plain text chat templates expect; only text parts are readable."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(f"Invalid '{where}.content': expected a string or an array of content parts.", param=where)
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("text", "input_text", "output_text") or not isinstance(part.get("text"), str):
            raise invalid(f"Invalid '{where}.content': the local model reads text only, not {kind or 'this'} "
                          f"content.", param=where)
        texts.append(part["text"])
    return "".join(texts)


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty array.", param="messages")
    converted = []
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise invalid(f"Invalid '{where}': a message is an object with a 'role'.", param=where)
        converted.append({**message, "content": _text(message.get("content"), where)})
    return converted


def _response_format(value: Any) -> dict[str, Any] | None:
    """JSON output is grammar-constrained by llama.cpp: any JSON, or JSON of the given schema."""
    kind = value.get("type") if isinstance(value, dict) else None
    if value is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if isinstance(schema, dict) else {"type": "json_object"}
    raise invalid("Invalid 'response_format': expected type text, json_object or json_schema.",
                  param="response_format")


def _tools(tools: Any, choice: Any) -> dict[str, Any]:
    """Tools and a forced choice for llama.cpp.

    A choice that names a function (or ``required`` with one tool) makes a call whose arguments
    are grammar-constrained to the tool's parameters. Otherwise the tools reach the chat
    template, which shows them to the model only if it was written to, and the answer is text.
    """
    if not tools or choice == "none":
        return {}
    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("function"), dict)
                                              and isinstance(t["function"].get("name"), str) for t in tools):
        raise invalid("Invalid 'tools': each tool is {type: function, function: {name, parameters}}.", param="tools")
    functions: list[dict[str, Any]] = [
        {"type": "function", "function": {"parameters": {"type": "object", "properties": {}}, **t["function"]}}
        for t in tools]
    if choice == "required" and len(functions) == 1:
        choice = {"type": "function", "function": {"name": functions[0]["function"]["name"]}}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name not in {f["function"]["name"] for f in functions}:
            raise invalid(f"Invalid 'tool_choice': no tool named {name!r}.", param="tool_choice")
        return {"tools": functions, "tool_choice": {"type": "function", "function": {"name": name}}}
    return {"tools": functions}


def chat_kwargs(body: dict[str, Any], sampling: Sampling) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"messages": _messages(body.get("messages")), "repeat_penalty": sampling.repeat_penalty,
                              "max_tokens": sampling.max_output_tokens}
    for key in NUMBERS:
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise invalid(f"Invalid '{key}': expected a number.", param=key)
            kwargs[key] = value
    seed = body.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("Invalid 'seed': expected an integer.", param="seed")
        kwargs["seed"] = seed
    stop = body.get("stop")
    if stop is not None:
        if not isinstance(stop, str) and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise invalid("Invalid 'stop': expected a string or an array of strings.", param="stop")
        kwargs["stop"] = stop
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(key)
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise invalid(f"Invalid '{key}': expected a positive integer.", param=key)
        kwargs["max_tokens"] = max_tokens
    response_format = _response_format(body.get("response_format"))
    if response_format is not None:
        kwargs["response_format"] = response_format
    return {**kwargs, **_tools(body.get("tools"), body.get("tool_choice"))}
