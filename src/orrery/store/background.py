"""The store side of background responses: the queue any process takes jobs from, cancellation
requests, and the event log a stream resumes from.

A background response is a ``queued`` row, its input items, its job (the sealed create request)
and its first two events, written together. A process takes it by turning it ``in_progress``
under a lease, in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so processes never
wait on each other's claims; SQLite's single writer serializes them). The job row goes with the
run's final write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery.store.common import storable
from orrery.store.schema import conversations, response_events, response_jobs, responses
from orrery.store.writer import Write


@dataclass(frozen=True)
class Job:
    response_id: str
    created_at_us: int
    conversation_id: str | None
    request: str
    """The create request, sealed."""
    owner: str | None
    """The project it runs for (``None`` on a server without keys)."""


def events_write(response_id: str, events: list[dict[str, Any]]) -> Write:
    """The write that appends ``events`` to a response's log."""
    rows = [{"response_id": response_id, "sequence_number": event["sequence_number"], "data": event}
            for event in events]
    return [(insert(response_events), rows)] if rows else []


def job_write(response_id: str, sealed_request: str, sealed_by: str) -> Write:
    return [(insert(response_jobs), [{"response_id": response_id, "request": sealed_request, "sealed_by": sealed_by,
                                      "cancel_requested": 0}])]


def job_done_write(response_id: str) -> Write:
    return [(delete(response_jobs).where(response_jobs.c.response_id == response_id), None)]


class BackgroundStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(self, limit: int, lease_expires_at: int, sealed_by: str, runner: str) -> list[Job]:
        """Take up to ``limit`` queued responses whose requests are sealed by ``sealed_by`` (the
        state key this process holds), oldest first, turning them ``in_progress``."""
        oldest = (select(responses.c.id)
                  .join(response_jobs, response_jobs.c.response_id == responses.c.id)
                  .where(responses.c.status == "queued", response_jobs.c.sealed_by == sealed_by)
                  .order_by(responses.c.created_at).limit(limit).with_for_update(skip_locked=True, of=responses))
        claimed = (update(responses)
                   .where(responses.c.id.in_(oldest.scalar_subquery()), responses.c.status == "queued")
                   .values(status="in_progress", lease_expires_at=lease_expires_at, runner=runner)
                   .returning(responses.c.id, responses.c.created_at, responses.c.conversation_id,
                              responses.c.owner))
        async with self.engine.begin() as connection:
            rows = (await connection.execute(claimed)).all()
            if not rows:
                return []
            requests = dict((await connection.execute(
                select(response_jobs.c.response_id, response_jobs.c.request)
                .where(response_jobs.c.response_id.in_([row.id for row in rows])))).tuples().all())
        return [Job(row.id, row.created_at, row.conversation_id, requests.get(row.id, ""), row.owner) for row in rows]

    async def queue_depth(self) -> int:
        """Background responses queued and not yet taken by any process, of every project."""
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(responses).where(
                responses.c.status == "queued"))).scalar_one())

    async def cancel_requested(self, response_ids: list[str]) -> list[str]:
        """Which of these running responses a client asked to cancel."""
        async with self.engine.connect() as connection:
            return list((await connection.execute(
                select(response_jobs.c.response_id).where(
                    response_jobs.c.response_id.in_(response_ids), response_jobs.c.cancel_requested == 1))
            ).scalars().all())

    async def request_cancel(self, response_id: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(response_jobs).where(response_jobs.c.response_id == response_id)
                                     .values(cancel_requested=1))

    async def cancel_queued(self, response_id: str) -> bool:
        """Cancel a response no process has taken yet, freeing its conversation; False when it
        is not queued (any more)."""
        async with self.engine.begin() as connection:
            row = (await connection.execute(
                update(responses).where(responses.c.id == response_id, responses.c.status == "queued")
                .values(status="cancelled").returning(responses.c.conversation_id))).first()
            if row is None:
                return False
            await connection.execute(delete(response_jobs).where(response_jobs.c.response_id == response_id))
            if row.conversation_id is not None:
                await connection.execute(update(conversations).where(
                    conversations.c.id == row.conversation_id).values(
                    active_response_id=case((conversations.c.active_response_id == response_id, None),
                                            else_=conversations.c.active_response_id)))
        return True

    async def events_after(self, response_id: str, after: int) -> list[dict[str, Any]]:
        """The logged events past sequence number ``after``, in order."""
        if not storable(response_id):
            return []
        async with self.engine.connect() as connection:
            return list((await connection.execute(
                select(response_events.c.data)
                .where(and_(response_events.c.response_id == response_id, response_events.c.sequence_number > after))
                .order_by(response_events.c.sequence_number))).scalars().all())

    async def status(self, response_id: str) -> str | None:
        async with self.engine.connect() as connection:
            return (await connection.execute(
                select(responses.c.status).where(responses.c.id == response_id))).scalar()

