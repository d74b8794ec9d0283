"""Incremental parsing of an upstream text/event-stream body into JSON payloads."""

from __future__ import annotations

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
    """The ``data:`` payloads of an SSE body fed to it chunk by chunk, parsed as JSON, up to
    ``[DONE]``; ``done`` says whether that ``[DONE]`` came.

    Works on raw bytes so a chunk boundary may fall anywhere, even inside a UTF-8 sequence; the
    buffer grows in place, so a long line costs linear time. A plain object, not an async
    generator over the body: every token of a stream passes through it, and a generator layer
    costs more than the parsing. Whoever feeds it reads the body to its end even after
    ``[DONE]``: only a fully read response lets the connection go back to the pool.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._buffer = bytearray()
        self.done = False

    def feed(self, chunk: bytes) -> list[Any]:
        """The payloads of the lines ``chunk`` completes."""
        if self.done:
            return []
        buffer = self._buffer
        searched = len(buffer)
        buffer += chunk
        if buffer.find(b"\n", searched) < 0:
            if len(buffer) > self._max_line:
                raise LineTooLong(f"a line of more than {self._max_line} bytes")
            return []
        *lines, rest = bytes(buffer).split(b"\n")
        self._buffer = bytearray(rest)
        payloads = []
        for line in lines:
            if not line:  # the blank line ending each event
                continue
            payload = self._payload(line)
            if payload is not NOTHING:
                payloads.append(payload)
            if self.done:
                break
        return payloads

    def end(self) -> list[Any]:
        """The payload of a last line the body did not end with a newline."""
        if self.done:
            return []
        payload = self._payload(bytes(self._buffer).strip())
        return [] if payload is NOTHING else [payload]

    def _payload(self, line: bytes) -> Any:
        """The line's JSON payload, or ``NOTHING`` (not a data line, an empty one, ``[DONE]``)."""
        if not line.startswith(b"data:"):
            return NOTHING
        payload = line[5:].strip()
        if payload == DONE:
            self.done = True
            return NOTHING
        return orjson.loads(payload) if payload else NOTHING
