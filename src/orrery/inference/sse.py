"""Incremental parsing of an upstream text/event-stream body into JSON payloads."""

from __future__ import annotations

from typing import Any, AsyncIterator

import orjson

DONE = b"[DONE]"


async def iter_sse_json(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """Yield each ``data:`` payload parsed as JSON, stopping at ``[DONE]``.

    Works on raw bytes so a chunk boundary may fall anywhere, even inside a UTF-8 sequence.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == DONE:
                return
            if payload:
                yield orjson.loads(payload)
    line = buffer.strip()
    if line.startswith(b"data:"):
        payload = line[5:].strip()
        if payload and payload != DONE:
            yield orjson.loads(payload)
