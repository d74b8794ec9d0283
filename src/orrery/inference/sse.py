"""Incremental parsing of an upstream text/event-stream body into JSON payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"[DONE]"
MAX_LINE = 16 * 1024 * 1024
"""Bytes one SSE line may hold: a longer one (an upstream that never sends a newline) ends the
stream rather than growing the buffer without bound."""


NOTHING = object()
"""What a line that carries no payload yields."""


class LineTooLong(ValueError):
    """An SSE line is longer than ``MAX_LINE``."""


class SSEPayloads:
    """The ``data:`` payloads of an SSE body, parsed as JSON, up to ``[DONE]``; ``done`` says
    whether that ``[DONE]`` came.

    Works on raw bytes so a chunk boundary may fall anywhere, even inside a UTF-8 sequence; the
    buffer grows in place, so a long line costs linear time. The body is read to its end even
    after ``[DONE]``: only a fully read response lets the connection go back to the pool instead
    of being closed.
    """

    def __init__(self, chunks: AsyncIterator[bytes], max_line: int = MAX_LINE) -> None:
        self._chunks = chunks
        self._max_line = max_line
        self.done = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._payloads()

    async def _payloads(self) -> AsyncIterator[Any]:
        buffer = bytearray()
        async for chunk in self._chunks:
            if self.done:
                continue
            searched = len(buffer)
            buffer += chunk
            if buffer.find(b"\n", searched) < 0:
                if len(buffer) > self._max_line:
                    raise LineTooLong(f"a line of more than {self._max_line} bytes")
                continue
            *lines, rest = bytes(buffer).split(b"\n")
            buffer = bytearray(rest)
            for line in lines:
                payload = self._payload(line)
                if payload is not NOTHING:
                    yield payload
                if self.done:
                    break
        if not self.done:
            payload = self._payload(bytes(buffer).strip())
            if payload is not NOTHING:
                yield payload

    def _payload(self, line: bytes) -> Any:
        """The line's JSON payload, or ``NOTHING`` (not a data line, an empty one, ``[DONE]``)."""
        if not line.startswith(b"data:"):
            return NOTHING
        payload = line[5:].strip()
        if payload == DONE:
            self.done = True
            return NOTHING
        return orjson.loads(payload) if payload else NOTHING
