"""Turns at a model that writes one answer at a time (the local provider's).

Requests take their turn in arrival order. One that has to wait says so in the log, with how
many are ahead of it; one still waiting after the provider's ``max_queue_wait`` is answered 503
with ``Retry-After`` instead of hanging: the model is busy with others' work, which is the
server's capacity, not this client's rate (a 429 here means a project's own limits).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the model for one generation; a 503 UpstreamError when it stays busy too long."""
        ahead = self._queued
        self._queued += 1
        try:
            if ahead:
                log.info("waiting for the embedded model %s: %d ahead", self.model, ahead)
            try:
                async with asyncio.timeout(self.max_wait):
                    await self._lock.acquire()
            except TimeoutError:
                log.warning("answered 503: waited %g s for the embedded model %s, %d ahead",
                            self.max_wait, self.model, ahead)
                raise busy(self.model, ahead, self.max_wait) from None
            try:
                yield
            finally:
                self._lock.release()
        finally:
            self._queued -= 1
