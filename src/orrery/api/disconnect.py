"""Non-streaming work that stops when its client goes away.

A streamed answer is cancelled by Starlette when the client disconnects; a non-streaming one
would run to its end, holding the local model (one generation at a time) for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

T = TypeVar("T")

CLIENT_GONE = 499
"""The status of an answer nobody reads (nginx's "client closed request")."""


async def _disconnect(request: Request) -> None:
    """Returns when the client has disconnected; the request body must have been read."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T | Response:
    """``work``'s result, or, when the client disconnects first, ``work`` cancelled and an
    empty answer."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return Response(status_code=CLIENT_GONE)
    return task.result()
