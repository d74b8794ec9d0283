"""Leases on in-progress responses, so a response whose process died does not stay in progress.

The process running a response renews its lease, and its hold on its conversation, while it
runs (every process renews the holds of queued background responses); every process also
sweeps: a response whose lease ran out is marked ``failed`` and the conversation it held is
freed. A conversation held by a response that died before its row was
written is free again once its hold is older than the lease. Renewals and sweeps are one batched
write per period for all of a process's responses, off the token path.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import and_, select, update

from orrery.store.background import expired_jobs_write
from orrery.store.common import now_us
from orrery.store.schema import conversations, responses
from orrery.store.writer import BatchWriter, Write

ABANDONED = {"code": "server_error", "message": "The server running this response stopped before it finished."}


class ResponseLeases:
    def __init__(self, writer: BatchWriter, seconds: float) -> None:
        """``seconds``: how long a response outlives its process before it is marked failed."""
        self.writer = writer
        self.seconds = seconds
        self.running: dict[str, str | None] = {}
        """This process's responses that have an in-progress row: id → the conversation they hold."""
        self._task: asyncio.Task[None] | None = None

    def expiry(self) -> int:
        return now_us() + int(self.seconds * 1_000_000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orrery-response-leases")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            self.writer.submit_detached(self.renew_and_sweep())

    def renew_and_sweep(self) -> Write:
        now = now_us()
        write: Write = []
        if self.running:
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
        expired = and_(responses.c.status == "in_progress", responses.c.lease_expires_at < now)
        write += expired_jobs_write(now)
        write.append((update(conversations).where(and_(
            conversations.c.id.in_(select(responses.c.conversation_id).where(expired)),
            conversations.c.active_response_id.in_(select(responses.c.id).where(expired)),
        )).values(active_response_id=None, active_since=None), None))
        write.append((update(responses).where(expired).values(
            status="failed", error=ABANDONED, lease_expires_at=None), None))
        return write
