"""Background responses: the pool of runs each process takes from the store's queue, the streams
that follow a run from any process, and cancellation.

A run here publishes its events to a ``RunFeed`` that streams in this process follow at once, and
logs them (batched, off the token path) for streams anywhere else, which poll the log every
``poll`` seconds. The same period bounds how long a queued response waits for another process
to take it and how long a cancellation takes to reach the process running it.

A process that dies mid-run leaves its responses ``in_progress`` until its heartbeats stop or
their lease runs out; they are then marked ``failed`` (see ``response_leases``), and a stream
following one ends with that ``response.failed``. They are not run again: their events were already streamed, and a
second run would stream different ones under the same sequence numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from orrery import principals
from orrery.errors import APIError, InvalidRequest
from orrery.principals import Principal
from orrery.responses.events import QUEUED_EVENTS, TERMINAL
from orrery.responses.orchestrator import ResponseRun
from orrery.store.background import BackgroundStore, Job, events_write
from orrery.store.response_leases import ResponseLeases
from orrery.store.responses import BackgroundRecord
from orrery.store.writer import BatchWriter
from orrery.wire.responses import CreateResponseRequest

if TYPE_CHECKING:
    from orrery.responses.service import Queued

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "in_progress")
FEED_KEPT_FOR = 5.0
"""Seconds a finished run's events stay in memory, for the streams that come for them right away."""
STOPPED = {"code": "server_error", "message": "The server stopped before this response finished."}
"""The error of a run the server stopped (shutting down)."""


class BackgroundService(Protocol):
    async def enqueue(self, request: CreateResponseRequest, body: bytes, *, claimed: bool) -> Queued: ...

    async def background_run(self, job: Job) -> ResponseRun: ...

    async def end_background(self, job: Job, error: APIError | dict[str, str] | None) -> list[dict[str, Any]]: ...

    async def retrieve(self, response_id: str, include: list[str]) -> dict[str, Any]: ...


class Pulse:
    """Wakes everyone waiting at once, each time it fires (an event set and replaced)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        fired, self._event = self._event, asyncio.Event()
        fired.set()

    async def wait(self) -> None:
        await self._event.wait()


class RunFeed:
    """The events of one run in this process, for the streams that follow it here."""

    def __init__(self, first: int, owner: str | None) -> None:
        self.first = first
        """The sequence number of the feed's first event."""
        self.owner = owner
        """The project whose response it is."""
        self.events: list[dict[str, Any]] = []
        self.done = False
        self._changed = Pulse()

    def publish(self, batch: list[dict[str, Any]]) -> None:
        self.events.extend(batch)
        self._changed.fire()

    def close(self) -> None:
        self.done = True
        self._changed.fire()

    async def after(self, sequence: int) -> AsyncIterator[list[dict[str, Any]]]:
        """The feed's events past ``sequence``, as they come, until the run ends."""
        position = max(0, sequence + 1 - self.first)
        while True:
            if position < len(self.events):
                batch = self.events[position:]
                position = len(self.events)
                yield batch
                continue
            if self.done:
                return
            await self._changed.wait()


class BackgroundRunner:
    def __init__(self, service: BackgroundService, store: BackgroundStore, writer: BatchWriter,
                 leases: ResponseLeases, *, key_id: str, concurrency: int, poll: float) -> None:
        """``key_id``: the state key this process holds (it takes the jobs sealed by it);
        ``concurrency``: runs at once in this process; ``poll``: seconds between looks at the
        store for queued responses, cancellations and the events of runs elsewhere."""
        self.service = service
        self.key_id = key_id
        self.store = store
        self.writer = writer
        self.leases = leases
        self.concurrency = concurrency
        self.poll = poll
        self.feeds: dict[str, RunFeed] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._records: dict[str, BackgroundRecord] = {}
        self._wakeup = asyncio.Event()
        self._feeds_changed = Pulse()
        """Fires whenever a run starts here, for the streams waiting on it."""
        self._loop: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="orrery-background")

    async def enqueue(self, request: CreateResponseRequest, body: bytes) -> Queued:
        """Store a background response and start it: here at once when this process has room
        (no claim round trip), else queued for the first process with room."""
        claimed = len(self._tasks) < self.concurrency
        queued = await self.service.enqueue(request, body, claimed=claimed)
        if claimed:
            self.run(queued.job)
        else:
            self._wakeup.set()
        return queued

    def run(self, job: Job) -> None:
        """Run a job this process has claimed."""
        self.leases.running[job.response_id] = job.conversation_id
        feed = RunFeed(QUEUED_EVENTS, job.owner)
        self.feeds[job.response_id] = feed
        self._tasks[job.response_id] = asyncio.create_task(self._execute(job, feed),
                                                           name=f"orrery-background-{job.response_id}")
        self._feeds_changed.fire()

    async def close(self) -> None:
        """Stop taking jobs; runs still going are stored ``failed`` (the server stopped)."""
        self._closing = True
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for response_id, task in list(self._tasks.items()):
            record = self._records.get(response_id)
            if record is not None:
                record.stopped_error = STOPPED
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll)
            self._wakeup.clear()
            try:
                await self._take_jobs()
                await self._take_cancellations()
            except Exception:
                log.exception("background responses: the store could not be read; retrying")

    async def _take_jobs(self) -> None:
        room = self.concurrency - len(self._tasks)
        if room <= 0:
            return
        for job in await self.store.claim(room, self.leases.expiry(), self.key_id, self.leases.process_id):
            self.run(job)

    async def _take_cancellations(self) -> None:
        if not self._tasks:
            return
        for response_id in await self.store.cancel_requested(list(self._tasks)):
            task = self._tasks.get(response_id)
            if task is not None:
                task.cancel()

    async def _execute(self, job: Job, feed: RunFeed) -> None:
        """Runs in a task of its own, for the project whose response it is."""
        principals.current.set(Principal(job.owner) if job.owner is not None else None)
        response_id = job.response_id
        run: ResponseRun | None = None
        try:
            try:
                run = await self.service.background_run(job)
            except APIError as exc:
                feed.publish(await self.service.end_background(job, exc))
                return
            if isinstance(run.record, BackgroundRecord):
                self._records[response_id] = run.record
            async for batch in run.event_batches():
                feed.publish(batch)
                if batch and batch[-1]["type"] not in TERMINAL:  # the record logs the closing batch
                    self.writer.submit_detached(events_write(response_id, batch))
        except asyncio.CancelledError:
            if run is None:  # stopped while it was being prepared
                feed.publish(await self.service.end_background(job, STOPPED if self._closing else None))
        except Exception:
            log.exception("background response %s failed", response_id)
        finally:
            if run is not None:
                run.abandon_if_unstarted()
            feed.close()
            asyncio.get_running_loop().call_later(FEED_KEPT_FOR, self._forget, response_id, feed)
            self._tasks.pop(response_id, None)
            self._records.pop(response_id, None)
            self.leases.running.pop(response_id, None)

    def _forget(self, response_id: str, feed: RunFeed) -> None:
        if self.feeds.get(response_id) is feed:
            del self.feeds[response_id]

    def runs_here(self, response_id: str) -> bool:
        """Whether the response runs (or just ran) in this process, for the current principal: it
        exists, and was created in the background."""
        feed = self.feeds.get(response_id)
        principal = principals.current.get()
        return feed is not None and (principal is None or principal.admin or feed.owner == principal.project)

    # streams

    async def follow(self, response_id: str, after: int) -> AsyncIterator[list[dict[str, Any]]]:
        """The response's events past sequence number ``after``: those logged, then the live run's,
        here or on another process, until its terminal event (or its cancellation)."""
        seen = after
        while True:
            feed = self.feeds.get(response_id)
            if feed is not None and seen + 1 >= feed.first:
                async for batch in feed.after(seen):
                    yield batch
                    seen = batch[-1]["sequence_number"]
                if feed.events and feed.events[-1]["type"] in TERMINAL:
                    return
            events = await self.store.events_after(response_id, seen)
            if events:
                yield events
                seen = events[-1]["sequence_number"]
                if events[-1]["type"] in TERMINAL:
                    return
                continue
            status = await self.store.status(response_id)
            if status not in UNFINISHED:
                async for batch in self._ending(response_id, status, seen):
                    yield batch
                return
            if response_id not in self.feeds:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._feeds_changed.wait(), self.poll)

    async def _ending(self, response_id: str, status: str | None,
                      seen: int) -> AsyncIterator[list[dict[str, Any]]]:
        """What a stream still shows of a run that ended: events logged since the last look, else
        the terminal event of a run whose process died (its end is known only from its row)."""
        events = await self.store.events_after(response_id, seen)
        if events:
            yield events
            return
        if status in ("completed", "failed", "incomplete"):
            view = await self.service.retrieve(response_id, [])
            yield [{"type": f"response.{status}", "sequence_number": seen + 1, "response": view}]

    # cancellation

    async def cancel(self, response_id: str) -> dict[str, Any]:
        """``POST /v1/responses/{id}/cancel``: a queued or running background response stops and
        is stored ``cancelled``; cancelling it again answers the same."""
        view = await self.service.retrieve(response_id, [])
        if not view["background"]:
            raise InvalidRequest("Only responses created with background=true can be cancelled.",
                                 param="response_id", code="invalid_value")
        status = view["status"]
        if status == "cancelled":
            return view
        if status not in UNFINISHED:
            raise InvalidRequest(f"Cannot cancel a response that has already finished (it is {status}).",
                                 param="response_id", code="invalid_value")
        if status == "queued" and await self.store.cancel_queued(response_id):
            return await self.service.retrieve(response_id, [])
        task = self._tasks.get(response_id)
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        else:
            await self.store.request_cancel(response_id)
            await self._until_finished(response_id)
        await self.writer.submit([])  # the cancelled run's final write is committed before this one
        return await self.service.retrieve(response_id, [])

    async def _until_finished(self, response_id: str) -> None:
        """Wait (a bounded while) for the process running the response to stop it."""
        for _ in range(max(50, int(10 / self.poll))):
            if await self.store.status(response_id) not in UNFINISHED:
                return
            await asyncio.sleep(self.poll / 2)
