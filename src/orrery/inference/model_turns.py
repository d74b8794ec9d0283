"""Turns at a model that writes one answer at a time (the local provider's).

Requests take their turn in arrival order. One that has to wait says so in the log, with how
many are ahead of it; one still waiting after the provider's ``max_queue_wait`` is answered 503
with ``Retry-After`` instead of hanging: the model is busy with others' work, which is the
server's capacity, not this client's rate (a 429 here means a project's own limits).

A streamed response sends its first events before it asks the model, so it takes its turn first
(``admit``): a busy model is then a 503 before its first byte, like any other request's, and the
turn it waited for is the one its first generation uses.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from orrery.inference.errors import UpstreamError

log = logging.getLogger(__name__)


def busy(model: str, ahead: int, waited: float) -> UpstreamError:
    """The 503 for a request that waited ``waited`` seconds behind ``ahead`` others."""
    retry_after = max(1, math.ceil(waited))
    message = (f"The local model {model} is busy: this request waited {waited:g} s behind {ahead} other "
               f"{'request' if ahead == 1 else 'requests'} (it writes one answer at a time). Retry after "
               f"{retry_after} s; the provider's max_queue_wait sets how long a request waits.")
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": "model_busy"}}
    return UpstreamError("http", message, status=503, body=body, retry_after=retry_after)


class ModelTurns:
    def __init__(self, model: str, max_wait: float) -> None:
        """``model``: the name the log and errors give; ``max_wait``: seconds a request waits at most."""
        self.model = model
        self.max_wait = max_wait
        self._lock = asyncio.Lock()
        self._queued = 0
        """Requests holding the model or waiting for it."""
        self._admitted: asyncio.Task[Any] | None = None
        """The task holding the model from its admission until its first turn."""

    async def _acquire(self) -> None:
        """Wait for the model, in arrival order; a 503 UpstreamError when it stays busy too long."""
        ahead = self._queued
        self._queued += 1
        if ahead:
            log.info("waiting for the embedded model %s: %d ahead", self.model, ahead)
        try:
            async with asyncio.timeout(self.max_wait):
                await self._lock.acquire()
        except BaseException as exc:
            self._queued -= 1
            if not isinstance(exc, TimeoutError):
                raise
            log.warning("answered 503: waited %g s for the embedded model %s, %d ahead",
                        self.max_wait, self.model, ahead)
            raise busy(self.model, ahead, self.max_wait) from None

    def _release(self) -> None:
        self._queued -= 1
        self._lock.release()

    async def admit(self) -> None:
        """Take the model now, for the current task's first turn; given back when the task ends
        without one, whatever ends it."""
        await self._acquire()
        task = asyncio.current_task()
        assert task is not None
        self._admitted = task
        task.add_done_callback(self._release_unused)

    def _release_unused(self, task: asyncio.Task[Any]) -> None:
        if self._admitted is task:
            self._admitted = None
            self._release()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the model for one generation: the current task's admission, else a turn waited for."""
        if self._admitted is not None and self._admitted is asyncio.current_task():
            self._admitted = None
        else:
            await self._acquire()
        try:
            yield
        finally:
            self._release()
