"""Keeping a response's upstream body within its model's context window.

With the window known, a body that may not fit is counted (by the provider, as exactly as it can)
before the upstream is called. ``truncation: "disabled"`` (the default) then answers a 400
``context_length_exceeded`` before any stream, as OpenAI does, instead of an upstream failure;
``truncation: "auto"`` drops the oldest messages until the body fits: never the instructions
(leading system messages), never a tool call without its answers or answers without their call,
and never the last message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from orrery.errors import InvalidRequest
from orrery.inference.tokens import TokenCount, estimate

Counter = Callable[[dict[str, Any]], Awaitable[TokenCount]]
MAX_RECOUNTS = 8
"""Counts of a shortened body before giving up on fitting it; each drops at least one more turn."""


@dataclass(frozen=True)
class Fitted:
    """What fitting a body left out of it."""

    messages: int = 0
    tokens: int = 0
    tool_call_ids: list[str] = field(default_factory=list)
    """The calls whose results were left out."""


NOTHING_LEFT_OUT = Fitted()


def too_long(tokens: int, limit: int) -> InvalidRequest:
    return InvalidRequest(
        f"Your input exceeds the context window of this model: it is {tokens} tokens, and at most {limit} fit "
        "(the window less max_output_tokens). Shorten the input, or set truncation to 'auto' to drop the "
        "oldest items.", param="input", code="context_length_exceeded")


def _surely_fits(body: dict[str, Any], limit: int) -> bool:
    """Whether the body fits without counting it: a token is at least a byte of its JSON here."""
    return len(orjson.dumps(body["messages"])) + len(orjson.dumps(body.get("tools") or [])) <= limit


def _turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages in the groups they are dropped by: an assistant's tool calls with their answers."""
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if message.get("role") == "tool" and turns:
            turns[-1].append(message)
        else:
            turns.append([message])
    return turns


def _weights(turns: list[list[dict[str, Any]]]) -> list[int]:
    return [estimate({"messages": turn}).tokens for turn in turns]


async def count_beyond(body: dict[str, Any], count: Counter, bound: int) -> TokenCount | None:
    """``body``'s count; ``None``, without counting, when it surely is within ``bound`` tokens."""
    return None if _surely_fits(body, bound) else await count(body)


def _left_out(messages: list[dict[str, Any]], before: int, after: int) -> Fitted:
    calls = [call["id"] for message in messages for call in message.get("tool_calls") or ()]
    return Fitted(len(messages), before - after, calls)


async def fit(body: dict[str, Any], count: Counter, limit: int, *, truncate: bool,
              counted: TokenCount | None = None) -> Fitted:
    """Make ``body`` fit in ``limit`` tokens, or raise; returns what was left out.

    ``counted``: the count of ``body`` as it is, when one was already made."""
    if counted is None:
        if _surely_fits(body, limit):
            return NOTHING_LEFT_OUT
        counted = await count(body)
    if counted.tokens <= limit:
        return NOTHING_LEFT_OUT
    before = counted.tokens
    if not truncate:
        raise too_long(counted.tokens, limit)
    messages = body["messages"]
    head = 0
    while head < len(messages) - 1 and messages[head].get("role") == "system":
        head += 1
    instructions, turns = messages[:head], _turns(messages[head:])
    weights = _weights(turns)
    scale = counted.tokens / max(1, sum(weights) + sum(_weights([[m] for m in instructions])))
    dropped = 0
    excess = counted.tokens - limit
    for _ in range(MAX_RECOUNTS):
        while excess > 0 and dropped < len(turns) - 1:
            excess -= int(weights[dropped] * scale)
            dropped += 1
        body["messages"] = instructions + [m for turn in turns[dropped:] for m in turn]
        counted = await count(body)
        if counted.tokens <= limit:
            return _left_out([m for turn in turns[:dropped] for m in turn], before, counted.tokens)
        if dropped >= len(turns) - 1:
            break
        excess = counted.tokens - limit
    body["messages"] = messages
    raise too_long(counted.tokens, limit)
