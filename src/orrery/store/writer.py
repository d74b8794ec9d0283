"""Batched writes: many callers' writes go into one transaction, off the token path.

Callers submit a write and get a future. Writes that may be lost on a crash are fire-and-forget;
a caller that must read its own write (the end of a response) awaits the future. One writer task
per process drains the queue; a batch that fails is retried write by write, so one bad write
cannot sink the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

Write = Callable[[AsyncConnection], Awaitable[None]]


class StoreWriteError(RuntimeError):
    """A queued write could not be committed."""


def _consume_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class BatchWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orrery-batch-writer")

    def submit(self, write: Write) -> asyncio.Future[None]:
        """Queue a write; the future fails with StoreWriteError if the write did."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._wakeup.set()
        return future

    def submit_detached(self, write: Write) -> None:
        """Queue a write nobody waits for; a failure is logged by the writer."""
        self.submit(write).add_done_callback(_consume_outcome)

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._write(batch)
            if self._closing and not self._pending:
                return

    async def _write(self, batch: list[tuple[Write, asyncio.Future[None]]]) -> None:
        try:
            async with self._engine.begin() as connection:
                for write, _ in batch:
                    await write(connection)
        except Exception:
            if len(batch) == 1:
                write, future = batch[0]
                log.exception("store write failed")
                if not future.done():
                    future.set_exception(StoreWriteError("store write failed"))
                return
            for one in batch:
                await self._write([one])
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
