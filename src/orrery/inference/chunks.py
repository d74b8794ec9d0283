"""What an upstream chat-completion chunk must look like before the Responses layer reads it.

An upstream is checked, not trusted: a chunk of the wrong shape (a number, a list, ``choices``
that are not a list, a ``delta`` that is not an object, ``content`` or ``arguments`` that are not
strings, usage counts that are not integers) is the upstream's protocol failure, and the response
ends ``failed`` saying what was wrong instead of breaking its stream. Only the fields the server
reads are checked, with ``isinstance`` tests cheap enough for every chunk; ``reasoning`` and
``refusal`` of another type are ignored where they are read, as some upstreams send objects there.

Every token of a stream passes here, so the usual chunk (one choice with a text delta) is passed by
one test of exact types (``_plain_choice``); only a chunk it does not pass goes through the field
by field checks, which name what is wrong.
"""

from __future__ import annotations

from typing import Any

STRING_DELTAS = ("content", "role")
COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class MalformedChunk(ValueError):
    """The chunk is not a chat completion chunk; the message says where."""


Where = tuple[str | int, ...]
"""Where in the chunk an object is (``("choices", 0)``); with a constant suffix naming a field of
it (``".delta.content"``), spelt out only when the field is wrong: building every path of every
chunk would cost more than checking it."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _spelt(where: Where, suffix: str = "") -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where) + suffix
    return "'" + path.lstrip(".") + "'"


def _expect(value: Any, kind: type | tuple[type, ...], where: Where, suffix: str, what: str) -> None:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is int):
        raise MalformedChunk(f"{_spelt(where, suffix)} is {_kind(value)}, not {what}")


def _object(value: Any, where: Where) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedChunk(f"{_spelt(where) if where else 'a chunk'} is {_kind(value)}, not an object")
    return value


def checked_chunk(chunk: Any) -> dict[str, Any]:
    """``chunk`` if it has the shape of a chat completion chunk, else MalformedChunk."""
    chunk = _object(chunk, ())
    choices = chunk.get("choices")
    if not (type(choices) is list and len(choices) == 1 and _plain_choice(choices[0])):
        _expect(choices, list, (), "choices", "a list")
        for position, choice in enumerate(choices or ()):
            _check_choice(choice, ("choices", position))
    usage = chunk.get("usage")
    if usage is not None:
        _check_usage(usage)
    return chunk


STRING_DELTA_FIELDS = tuple((key, f".delta.{key}") for key in STRING_DELTAS)


def _plain_choice(choice: Any) -> bool:
    """Whether ``choice`` is the usual kind, fine by the checks of ``_check_choice``: no tool
    calls, no logprobs, and every field it has (the ``STRING_DELTAS`` among them) of the exact
    type orjson makes."""
    if type(choice) is not dict:
        return False
    index = choice.get("index")
    finish_reason = choice.get("finish_reason")
    delta = choice.get("delta")
    if not ((index is None or type(index) is int) and (finish_reason is None or type(finish_reason) is str)
            and choice.get("logprobs") is None):
        return False
    if delta is None:
        return True
    if type(delta) is not dict:
        return False
    content = delta.get("content")
    role = delta.get("role")
    return ((content is None or type(content) is str) and (role is None or type(role) is str)
            and delta.get("tool_calls") is None)


def _check_choice(choice: Any, where: Where) -> None:
    choice = _object(choice, where)
    _expect(choice.get("index"), int, where, ".index", "an integer")
    _expect(choice.get("finish_reason"), str, where, ".finish_reason", "a string")
    delta = choice.get("delta")
    _expect(delta, dict, where, ".delta", "an object")
    if delta:
        for key, suffix in STRING_DELTA_FIELDS:
            _expect(delta.get(key), str, where, suffix, "a string")
        calls = delta.get("tool_calls")
        _expect(calls, list, where, ".delta.tool_calls", "a list")
        for position, call in enumerate(calls or ()):
            _check_call(call, (*where, "delta", "tool_calls", position))
    logprobs = choice.get("logprobs")
    _expect(logprobs, dict, where, ".logprobs", "an object")
    if logprobs:
        _check_logprobs(logprobs.get("content"), (*where, "logprobs", "content"))


def _check_call(call: Any, where: Where) -> None:
    call = _object(call, where)
    _expect(call.get("index"), int, where, ".index", "an integer")
    _expect(call.get("id"), str, where, ".id", "a string")
    function = call.get("function")
    _expect(function, dict, where, ".function", "an object")
    if function:
        _expect(function.get("name"), str, where, ".function.name", "a string")
        _expect(function.get("arguments"), str, where, ".function.arguments", "a string")


def _check_logprobs(entries: Any, where: Where) -> None:
    _expect(entries, list, where, "", "a list")
    for position, entry in enumerate(entries or ()):
        tops = entry.get("top_logprobs") if isinstance(entry, dict) else None
        _expect(tops, list, (*where, position), ".top_logprobs", "a list")
        for index, token in enumerate([entry, *(tops or ())]):
            if not isinstance(token, dict) or not isinstance(token.get("token"), str) \
                    or not isinstance(token.get("logprob"), int | float):
                at = (*where, position) if index == 0 else (*where, position, "top_logprobs", index - 1)
                raise MalformedChunk(f"{_spelt(at)} is not a token with its logprob")


def _check_usage(usage: Any) -> None:
    usage = _object(usage, ("usage",))
    for key in COUNTS:
        _expect(usage.get(key), int, ("usage",), f".{key}", "an integer")
    for details, keys in (("prompt_tokens_details", ("cached_tokens", "cache_write_tokens")),
                          ("completion_tokens_details", ("reasoning_tokens",))):
        value = usage.get(details)
        _expect(value, dict, ("usage",), f".{details}", "an object")
        for key in keys:
            _expect((value or {}).get(key), int, ("usage", details), f".{key}", "an integer")
