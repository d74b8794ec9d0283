"""Numbered Responses stream events, built as dicts and encoded once as SSE frames."""

from __future__ import annotations

from typing import Any

import orjson


class EventCounter:
    """Gives each event of one response its ``sequence_number``, from 0 upwards."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def __call__(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": event_type, "sequence_number": self._next, **fields}
        self._next += 1
        return event


DONE = b"data: [DONE]\n\n"
"""The frame after a response's terminal event, as Open Responses requires it; the openai SDKs
stop reading at it."""

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

QUEUED_EVENTS = 2
"""A background response's first events, sent at its creation: ``response.created`` and
``response.queued``; its run goes on from there."""


def _frame(event: dict[str, Any]) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def sse_frames(batch: list[dict[str, Any]]) -> bytes:
    """A batch of events as ``event:`` and ``data:`` lines, each frame ended by a blank line, LF
    line endings; a batch ending in the terminal event is followed by ``data: [DONE]``. Most
    batches are one delta, encoded without a join."""
    frames = _frame(batch[0]) if len(batch) == 1 else b"".join(map(_frame, batch))
    return frames + DONE if batch and batch[-1]["type"] in TERMINAL else frames
