"""Compaction: the earlier context of a long session replaced by a summary its model writes.

A ``compaction`` item stands for everything before it. Its ``encrypted_content`` seals, under the
server's state key (as reasoning's does), three things: the summary; the most recent user messages
it replaced, verbatim, up to ``KEPT_USER_CHARS`` characters of their content; and the tail that a
summary must not cut off, the tool calls waiting for their outputs and the input of the turn
that compacted. For the model, the latest compaction item of a context becomes those user
messages, then the summary as a user message starting with ``SUMMARY_PREFIX``, then the tail;
items after it are shown as they were, items before it not at all.

The summary is written by the model the request names, in one upstream call: the context as that
model would be shown it, then ``COMPACTION_PROMPT`` as a user message. Where the context window
is known, that call's oldest messages are dropped until it fits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from orrery.inference.errors import UpstreamError
from orrery.sealing import Sealer
from orrery.wire import objects
from orrery.wire.shapes import Usage

Item = dict[str, Any]

COMPACTION_PROMPT = (
    "Write a checkpoint of this conversation so far, to be read in place of it by whoever continues the work. "
    "Include: what the user asked for and every constraint or preference they stated; what has been done, with "
    "the concrete results (names, values, files, commands, decisions); what is still open or was just started; "
    "and anything needed to pick up exactly where it stopped. Be complete and concise, write only the "
    "checkpoint, and do not answer or continue the conversation itself."
)
"""The user message that asks the model for the summary."""

SUMMARY_PREFIX = "Summary of the earlier conversation, which was compacted:\n\n"
"""How the summary is introduced when it is shown to the model in place of what it replaced."""

KEPT_USER_CHARS = 16_000
"""How much of the latest user messages a compaction keeps verbatim: characters of their content
as JSON, and ``MESSAGE_CHARS`` for each. A compaction for ``context_management`` keeps no more
than its threshold in characters (about a quarter of it in tokens), so that the compacted context
stays well under the threshold and the next turns do not compact again at once."""
MESSAGE_CHARS = 16


@dataclass(frozen=True)
class Compacted:
    """What a compaction item holds."""

    summary: str
    user_messages: list[Item]
    tail: list[Item]

    def items(self) -> list[Item]:
        """The items the model is shown in the compaction's place."""
        summary = {"type": "message", "role": "user", "content": SUMMARY_PREFIX + self.summary}
        return [*self.user_messages, summary, *self.tail]

    def seal(self, sealer: Sealer) -> str:
        return sealer.seal({"compaction": {"summary": self.summary, "user_messages": self.user_messages,
                                           "tail": self.tail}})

    @classmethod
    def opened(cls, sealer: Sealer, token: str) -> Compacted | None:
        """What ``token`` seals; ``None`` if this server did not seal it as a compaction, or it was changed."""
        sealed = sealer.open(token)
        held = sealed.get("compaction") if sealed is not None else None
        if not isinstance(held, dict) or not isinstance(held.get("summary"), str):
            return None
        return cls(held["summary"], list(held.get("user_messages") or []), list(held.get("tail") or []))


@dataclass(frozen=True)
class PendingCompaction:
    """A compaction a response runs before its model's turn."""

    body: dict[str, Any]
    """The upstream body that asks for the summary."""
    build: Callable[[str], Awaitable[tuple[str, dict[str, Any] | None]]]
    """From the summary: the compaction item's ``encrypted_content``, and the upstream body of the
    model's turn (``None`` when the response only compacts)."""


def latest(items: list[Item]) -> int | None:
    """The position of the last compaction item in ``items`` (one whose compaction failed holds nothing)."""
    for position in range(len(items) - 1, -1, -1):
        if items[position].get("type") == "compaction" and items[position].get("encrypted_content"):
            return position
    return None


def expanded(history: list[Item], input_items: list[Item],
             opened: Callable[[Item, bool], Compacted]) -> tuple[list[Item], list[Item]]:
    """The history and input as the model is shown them: from their latest compaction on, that
    compaction standing for everything before it. ``opened(item, in_input)`` opens one."""
    in_input = latest(input_items)
    if in_input is not None:
        return [], [*opened(input_items[in_input], True).items(), *input_items[in_input + 1:]]
    in_history = latest(history)
    if in_history is None:
        return history, input_items
    return [*opened(history[in_history], False).items(), *history[in_history + 1:]], input_items


def _waiting_calls(items: list[Item]) -> int:
    """Where the trailing run of calls (and the reasoning before them) begins: the items a
    following input may answer, which a summary must not separate from their outputs."""
    start = len(items)
    while start > 0:
        kind = items[start - 1].get("type", "message")
        if kind == "message" or kind.endswith("_output") or kind == "compaction":
            break
        start -= 1
    return start


def _kept_user_messages(items: list[Item], budget: int) -> list[Item]:
    """The latest user messages of ``items``, oldest first, that fit ``budget`` characters."""
    kept: list[Item] = []
    left = budget
    for item in reversed(items):
        if item.get("type", "message") != "message" or item.get("role") != "user":
            continue
        size = len(orjson.dumps(item["content"])) + MESSAGE_CHARS
        if size > left:
            break
        left -= size
        kept.append({"type": "message", "role": "user", "content": item["content"]})
    return kept[::-1]


def compacted(context: list[Item], summary: str, current_input: list[Item] | None = None,
              budget: int | None = None) -> Compacted:
    """The compaction of ``context`` (items as the model is shown them) with its summary;
    ``current_input``: the input of a turn compacted before it is answered, kept whole;
    ``budget``: at most this many characters of user messages are kept (``KEPT_USER_CHARS`` at most)."""
    cut = _waiting_calls(context)
    kept = _kept_user_messages(context[:cut], min(KEPT_USER_CHARS, budget or KEPT_USER_CHARS))
    return Compacted(summary, kept, [*context[cut:], *(current_input or [])])


def summary_body(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The upstream body that asks ``model`` for the summary of a context shown as ``messages``."""
    return {"model": model, "messages": [*messages, {"role": "user", "content": COMPACTION_PROMPT}],
            "stream": True, "stream_options": {"include_usage": True}}


async def summarize(stream_chat: Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]],
                    body: dict[str, Any]) -> tuple[str, Usage | None]:
    """The summary the model writes, and the usage of writing it; an empty one is an upstream failure."""
    parts: list[str] = []
    usage: Usage | None = None
    async for chunk in stream_chat(body):
        if chunk.get("usage"):
            usage = objects.usage_from_chat(chunk["usage"])
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content") if choice.get("index", 0) == 0 else None
            if content:
                parts.append(content)
    summary = "".join(parts).strip()
    if not summary:
        raise UpstreamError("protocol", "The model wrote an empty summary of the context to compact.")
    return summary, usage
