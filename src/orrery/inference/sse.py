"""Incremental parsing of an upstream text/event-stream body into JSON payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"[DONE]"


async def iter_sse_json(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """Yield each ``data:`` payload parsed as JSON, up to ``[DONE]``.

    Works on raw bytes so a chunk boundary may fall anywhere, even inside a UTF-8 sequence. The
    body is read to its end even after ``[DONE]``: only a fully read response lets the
    connection go back to the pool instead of being closed.
    """
    buffer = b""
    done = False
    async for chunk in chunks:
        if done:
            continue
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == DONE:
                done = True
                break
            if payload:
                yield orjson.loads(payload)
    line = buffer.strip()
    if not done and line.startswith(b"data:"):
        payload = line[5:].strip()
        if payload and payload != DONE:
            yield orjson.loads(payload)
