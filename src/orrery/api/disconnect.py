"""Work that stops when its client goes away: a streamed answer, and a non-streaming one (which
would otherwise run to its end, holding the local model, one generation at a time, for nobody).

One pending ``receive`` watches for the disconnect and cancels the task serving the request:
no task group (Starlette's way for a stream) and no second task running the work, which cost
more than some responses' own work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orrery.observability.metrics import OPEN_STREAMS
from orrery.responses.events import DONE, sse_frames

T = TypeVar("T")

CLIENT_GONE = 499
"""The status of an answer nobody reads (nginx's "client closed request")."""
SERVER_SEND = "orrery.server_send"
"""The scope key of the server's own ``send``, as the app received it, outside every middleware.

An event stream sends its body there: a long stream is thousands of writes, and each middleware
layer (error handlers, body limits) would only pass them on, as they look at the start of an
answer alone. No middleware of this app may change an answer's body (compress it, say)."""


class DisconnectWatch:
    """Cancels the task that made it when the client disconnects, until it is closed. The
    request body must have been read: what ``receive`` gives then is the disconnect."""

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._open = True
        self.gone = False
        self._watcher = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if self._open:
            self.gone = True
            self._task.cancel()

    def ours(self) -> bool:
        """Called on a CancelledError: whether this watch alone cancelled the task (the client
        left), which then goes on; any other cancellation (the server stopping) stands."""
        return self.gone and self._task.uncancel() == 0

    def close(self) -> None:
        self._open = False
        self._watcher.cancel()


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T | Response:
    """``work``'s result, or, when the client disconnects first, ``work`` cancelled and an
    empty answer."""
    watch = DisconnectWatch(request.receive)
    try:
        return await work
    except asyncio.CancelledError:
        if not watch.ours():
            raise
        return Response(status_code=CLIENT_GONE)
    finally:
        watch.close()


class EventStream(Response):
    """An SSE answer of event ``batches``, each batch one write; the batch ending in ``[DONE]``
    ends the body (no empty last write), and a client that disconnects cancels the rest."""

    media_type = "text/event-stream"

    def __init__(self, batches: AsyncIterator[list[dict[str, Any]]], headers: dict[str, str]) -> None:
        self._batches = batches
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = DisconnectWatch(receive)
        OPEN_STREAMS.inc()
        try:
            await self._stream(send, scope.get(SERVER_SEND, send))
        except asyncio.CancelledError:
            if not watch.ours():
                raise
        finally:
            OPEN_STREAMS.dec()
            watch.close()

    async def _stream(self, send: Send, body_send: Send) -> None:
        """The start through the middleware (which track whether an answer started), the body
        straight to the server."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        more = True
        async for batch in self._batches:
            frame = sse_frames(batch)
            more = not frame.endswith(DONE)
            await body_send({"type": "http.response.body", "body": frame, "more_body": more})
        if more:
            await body_send({"type": "http.response.body", "body": b"", "more_body": False})
