"""Leases on in-progress responses, so a response whose process died does not stay in progress.

The process running a response renews its lease, and its hold on its conversation, while it
runs (every process renews the holds of queued background responses); every process also
sweeps: a response whose lease ran out is marked ``failed`` and the conversation it held is
freed. A conversation held by a response that died before its row was written is free again once
its hold is older than the lease. Each process also beats (``server_processes``) every
``HEARTBEAT`` seconds, and a response whose process has not beaten for ``DEAD_AFTER`` seconds is
failed at once, without waiting for its lease (the lease remains for the rest: a response of a
process whose row is gone, a store shared by machines whose clocks disagree by more than that).
Heartbeats, renewals and sweeps are one batched write per period, off the token path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from sqlalchemy import and_, delete, insert, or_, select, update

from orrery.ids import new_id
from orrery.store.common import now_us
from orrery.store.schema import conversations, response_jobs, responses, server_processes
from orrery.store.writer import BatchWriter, Write

ABANDONED = {"code": "server_error", "message": "The server running this response stopped before it finished."}


HEARTBEAT = 2.0
"""Seconds between a process's heartbeats (each also sweeps)."""
DEAD_AFTER = 10.0
"""Seconds without a heartbeat after which a process is taken for dead, and its responses failed."""


class ResponseLeases:
    def __init__(self, writer: BatchWriter, seconds: float) -> None:
        """``seconds``: how long a response outlives its process before it is marked failed, when
        that process is not known to have died sooner (by its heartbeats)."""
        self.writer = writer
        self.seconds = seconds
        self.running: dict[str, str | None] = {}
        """This process's responses that have an in-progress row: id → the conversation they hold."""
        self.process_id = new_id("proc")
        """This process, as the ``runner`` of its responses and in ``server_processes``."""
        self._task: asyncio.Task[None] | None = None

    def expiry(self) -> int:
        return now_us() + int(self.seconds * 1_000_000)

    async def start(self) -> None:
        await self.writer.submit([(insert(server_processes), [{"id": self.process_id, "heartbeat_at": now_us()}])])
        self._task = asyncio.create_task(self._run(), name="orrery-response-leases")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.writer.submit_detached([(delete(server_processes).where(server_processes.c.id == self.process_id), None)])

    async def _run(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(min(HEARTBEAT, self.seconds / 3))
            renewing = time.monotonic() - renewed >= self.seconds / 3
            if renewing:
                renewed = time.monotonic()
            self.writer.submit_detached(self.renew_and_sweep(renew=renewing))

    def renew_and_sweep(self, *, renew: bool = True) -> Write:
        now = now_us()
        write: Write = [(update(server_processes).where(server_processes.c.id == self.process_id)
                         .values(heartbeat_at=now), None)]
        if self.running and renew:
            running = list(self.running)
            write.append((update(responses).where(
                and_(responses.c.id.in_(running), responses.c.status == "in_progress"),
            ).values(lease_expires_at=self.expiry()), None))
            held = [conversation for conversation in self.running.values() if conversation is not None]
            if held:
                write.append((update(conversations).where(
                    and_(conversations.c.id.in_(held), conversations.c.active_response_id.in_(running)),
                ).values(active_since=now), None))
        write.append((update(conversations).where(conversations.c.active_response_id.in_(
            select(responses.c.id).where(responses.c.status == "queued"))).values(active_since=now), None))
        dead = select(server_processes.c.id).where(server_processes.c.heartbeat_at < now - int(DEAD_AFTER * 1e6))
        expired = and_(responses.c.status == "in_progress",
                       or_(responses.c.lease_expires_at < now, responses.c.runner.in_(dead)))
        write.append((delete(response_jobs).where(response_jobs.c.response_id.in_(
            select(responses.c.id).where(expired))), None))
        write.append((update(conversations).where(and_(
            conversations.c.id.in_(select(responses.c.conversation_id).where(expired)),
            conversations.c.active_response_id.in_(select(responses.c.id).where(expired)),
        )).values(active_response_id=None, active_since=None), None))
        write.append((update(responses).where(expired).values(
            status="failed", error=ABANDONED, lease_expires_at=None), None))
        write.append((delete(server_processes).where(
            server_processes.c.heartbeat_at < now - int(max(self.seconds, DEAD_AFTER) * 2e6)), None))
        return write
