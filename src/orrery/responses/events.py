"""Numbered Responses stream events, built as dicts and encoded once as SSE frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson


class EventCounter:
    """Gives each event of one response its ``sequence_number``, from 0 upwards."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def __call__(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": event_type, "sequence_number": self._next, **fields}
        self._next += 1
        return event


async def encode_sse(batches: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """``event:`` and ``data:`` lines, each frame ended by a blank line, LF line endings; one
    bytes string per batch of events."""
    async for batch in batches:
        yield b"".join(b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
                       for event in batch)
