"""Batched writes: many callers' writes go into one transaction, off the token path.

A write is data, a list of ``(statement, parameters)`` run in order. Callers submit a write and
get a future; writes that may be lost on a crash are fire-and-forget, and a caller that must
read its own write (the end of a response) awaits the future. One writer task per process drains
the queue into one transaction per batch; a batch that fails is retried write by write, so one
bad write cannot sink the others.

On SQLite a whole batch runs in one call to the writer's own thread, on a synchronous connection
that thread keeps open: the async driver would cross threads for every statement, cursor and
commit, and a pool checkout per batch, which cost more than the writes themselves. Processes
sharing the file (``--workers``) take turns through a lock file beside it: SQLite's own wait
for its write lock sleeps 1, 2, 5, 10… ms between tries, however soon the lock is free, while a
process waiting on the file lock is woken the moment it is released. On PostgreSQL the batch runs
on the async engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine, Executable
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

Statement = tuple[Executable, Any]
Write = list[Statement]
Batch = list[tuple[Write, "asyncio.Future[None]"]]


class StoreWriteError(RuntimeError):
    """A queued write could not be committed."""


def _consume_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _run_statements(connection: Connection, writes: list[Write]) -> None:
    for write in writes:
        for statement, parameters in write:
            connection.execute(statement, parameters)


class BatchWriter:
    def __init__(self, engine: AsyncEngine, sync_engine: Engine | None = None) -> None:
        """``sync_engine``, when given, runs the batches in a worker thread instead."""
        self._engine = engine
        self._sync_engine = sync_engine
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="orrery-store-writer") if sync_engine else None
        self._connection: Connection | None = None
        """The synchronous connection, opened, used and closed in ``_thread`` only."""
        database = sync_engine.url.database if sync_engine is not None else None
        self._lock_path = f"{database}.write-lock" if database and database != ":memory:" else None
        self._lock_fd: int | None = None
        self._pending: Batch = []
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
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
            self._thread.shutdown()

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()

    def _execute_sync(self, writes: list[Write]) -> None:
        """In ``_thread``: the writes in one transaction; a failed one drops the connection, so the
        next batch starts on a fresh one."""
        assert self._sync_engine is not None
        if self._connection is None:
            self._connection = self._sync_engine.connect()
        try:
            with self._turn(), self._connection.begin():
                _run_statements(self._connection, writes)
        except Exception:
            self._connection.close()
            self._connection = None
            raise

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """In ``_thread``: this process's turn to write the SQLite file (see the module's docstring)."""
        if self._lock_path is None:
            yield
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._write(batch)
            if self._closing and not self._pending:
                return

    async def _commit(self, writes: list[Write]) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._execute_sync, writes)
            return
        async with self._engine.begin() as connection:
            await connection.run_sync(_run_statements, writes)

    async def _write(self, batch: Batch) -> None:
        try:
            await self._commit([write for write, _ in batch])
        except Exception:
            if len(batch) == 1:
                log.exception("store write failed")
                future = batch[0][1]
                if not future.done():
                    future.set_exception(StoreWriteError("store write failed"))
                return
            for one in batch:
                await self._write([one])
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
