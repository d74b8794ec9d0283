"""Stored responses: rows, their items, history along ``previous_response_id``, keyset pages."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orrery import principals
from orrery.store.background import events_write, job_done_write, job_write
from orrery.store.common import Order, Page, keyset_page, storable
from orrery.store.conversations import ConversationHold
from orrery.store.response_leases import ResponseLeases
from orrery.store.schema import MODEL_LENGTH, Json, response_events, response_items, response_jobs, responses
from orrery.store.writer import BatchWriter, StoreWriteError, Write

log = logging.getLogger(__name__)

HISTORY = text(
    """
    WITH RECURSIVE chain(id, previous_response_id, depth) AS (
        SELECT id, previous_response_id, 0 FROM responses WHERE id = :id
        UNION ALL
        SELECT r.id, r.previous_response_id, chain.depth + 1
        FROM responses r JOIN chain ON r.id = chain.previous_response_id
        WHERE chain.depth < 100000
    )
    SELECT i.data FROM chain JOIN response_items i ON i.response_id = chain.id
    ORDER BY chain.depth DESC, i.role ASC, i.position ASC
    """
).columns(data=Json)
"""Every ancestor's items, oldest response first; within one, input before output (the role
names sort that way)."""


@dataclass(frozen=True)
class StoredResponse:
    id: str
    status: str
    created_at_us: int
    completed_at_us: int | None
    params: dict[str, Any]
    usage: dict[str, Any] | None
    error: dict[str, Any] | None
    incomplete_details: dict[str, Any] | None


def _item_rows(response_id: str, role: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"response_id": response_id, "role": role, "position": position, "id": item["id"],
         "type": item.get("type", "message"), "data": item}
        for position, item in enumerate(items)
    ]


def _row(response_id: str, created_at_us: int, params: dict[str, Any], hold: ConversationHold | None,
         owner: str | None) -> dict[str, Any]:
    return {
        "id": response_id, "created_at": created_at_us, "completed_at": None, "status": "in_progress",
        "model": params["model"], "previous_response_id": params["previous_response_id"],
        "conversation_id": hold.conversation_id if hold else None, "params": params, "usage": None, "error": None,
        "incomplete_details": None, "owner": owner if owner is not None else principals.owner(),
    }


INSERT_RESPONSE = insert(responses)
INSERT_ITEMS = insert(response_items)
"""Built once, as FINISH below."""


def _insert_write(row: dict[str, Any], item_rows: list[dict[str, Any]]) -> Write:
    write: Write = [(INSERT_RESPONSE, [row])]
    if item_rows:
        write.append((INSERT_ITEMS, item_rows))
    return write


FINISH = update(responses).where(responses.c.id == bindparam("finished_id")).values(
    {column: bindparam(f"new_{column}", type_=responses.c[column].type)
     for column in ("status", "completed_at", "usage", "error", "incomplete_details", "lease_expires_at")})
"""A running response's final state: built once, as building statements costs more than running them."""


class RunRecord:
    """The stored state of one running response.

    A response in a conversation appends its input and output items to it when it is answered
    (completed or incomplete), in the same transaction, and releases its hold on the
    conversation with that write however it ends.

    A response that ends within ``IN_PROGRESS_AFTER`` seconds is written once, in its final
    state, in one transaction, unless it is announced first (a streamed response, whose id a
    client has before it ends). One that runs longer, or is announced, gets its in-progress row
    (and input items) written then, so other requests see it as ``in_progress``, with a lease
    this process renews (see ``response_leases``); its end is an update. Either way the final
    write is awaited before the last event, so a client can chain on it at once.
    """

    IN_PROGRESS_AFTER = 0.05

    def __init__(self, writer: BatchWriter, leases: ResponseLeases, row: dict[str, Any],
                 input_rows: list[dict[str, Any]], hold: ConversationHold | None,
                 conversation_input: list[dict[str, Any]], *, written: bool = False) -> None:
        """``written``: the in-progress row exists already (a background response)."""
        self._writer = writer
        self._leases = leases
        self._row = row
        self._input_rows = input_rows
        self._hold = hold
        self._conversation_input = conversation_input
        self._written = written
        """Whether the in-progress row is written (or queued to be): the final write is then an update."""
        self._timer: asyncio.TimerHandle | None = None if written else asyncio.get_running_loop().call_later(
            self.IN_PROGRESS_AFTER, self._write_in_progress)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _in_progress_write(self) -> Write:
        self._stop_timer()
        self._written = True
        self._leases.running[self._row["id"]] = self._row["conversation_id"]
        return _insert_write({**self._row, "lease_expires_at": self._leases.expiry(),
                              "runner": self._leases.process_id}, self._input_rows)

    def _write_in_progress(self) -> None:
        self._writer.submit_detached(self._in_progress_write())

    async def announce(self) -> None:
        """Write the in-progress row now, and wait for it: the response's id is about to be sent.
        If the store fails it, the response runs all the same, and its final write inserts it."""
        if self._written:
            return
        try:
            await self._writer.submit(self._in_progress_write())
        except StoreWriteError:
            self._written = False
            self._leases.running.pop(self._row["id"], None)

    def _final_writes(self, response: dict[str, Any], completed_at_us: int | None) -> tuple[Write, Write]:
        """The response's own final write, and the one appending its turn to its conversation."""
        response_id = response["id"]
        values = {
            "status": response["status"], "completed_at": completed_at_us, "usage": response["usage"],
            "error": response["error"], "incomplete_details": response["incomplete_details"],
            "lease_expires_at": None,
        }
        self._leases.running.pop(response_id, None)
        item_rows = _item_rows(response_id, "output", response["output"])
        if self._written:
            write: Write = [(FINISH, {"finished_id": response_id, **{f"new_{k}": v for k, v in values.items()}})]
            if item_rows:
                write.append((INSERT_ITEMS, item_rows))
        else:
            self._stop_timer()
            self._written = True
            write = _insert_write({**self._row, **values}, self._input_rows + item_rows)
        appended: Write = []
        if self._hold is not None:
            answered = response["status"] in ("completed", "incomplete")
            appended = self._hold.release_with(self._conversation_input + response["output"] if answered else [])
        return write, appended

    async def _commit(self, own: Write, appended: Write) -> None:
        """Both writes in one transaction; if the conversation cannot take the turn (it was
        deleted meanwhile), the response alone, so the store says what its client was told."""
        try:
            await self._writer.submit([*own, *appended])
        except StoreWriteError:
            if not appended:
                raise
            self._without_turn()
            await self._writer.submit(own)

    def _commit_detached(self, own: Write, appended: Write) -> None:
        """``_commit``, not awaited: queued at once (a server stopping flushes it)."""
        def retried(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is not None and appended:
                self._without_turn()
                self._writer.submit_detached(own)

        self._writer.submit([*own, *appended]).add_done_callback(retried)

    def _without_turn(self) -> None:
        log.warning("response %s is stored without its turn: its conversation %s could not take it (deleted?)",
                    self._row["id"], self._row["conversation_id"])

    def _ended(self, response: dict[str, Any], completed_at_us: int | None,
               closing_events: list[dict[str, Any]]) -> tuple[Write, Write]:
        """The final writes of a run that ended as ``response`` says (``closing_events``: its
        stream's last events, which only a background response keeps)."""
        return self._final_writes(response, completed_at_us)

    def _abandoned(self, response: dict[str, Any]) -> dict[str, Any]:
        """What a run cut short is stored as."""
        return response

    async def finish(self, response: dict[str, Any], completed_at_us: int | None,
                     closing_events: list[dict[str, Any]]) -> None:
        """Store the final state and output, and wait until it is committed. ``closing_events``:
        the events that end the stream, the terminal one last."""
        await self._commit(*self._ended(response, completed_at_us, closing_events))

    def abandon(self, response: dict[str, Any]) -> None:
        """Store a run cut short (client gone); not awaited."""
        self._commit_detached(*self._ended(self._abandoned(response), None, []))


class BackgroundRecord(RunRecord):
    """A background response's record: its row exists from its creation; its end also logs the
    stream's closing events and drops its job, in the same transaction."""

    def __init__(self, writer: BatchWriter, leases: ResponseLeases, row: dict[str, Any],
                 hold: ConversationHold | None, conversation_input: list[dict[str, Any]]) -> None:
        super().__init__(writer, leases, row, [], hold, conversation_input, written=True)
        self.stopped_error: dict[str, Any] | None = None
        """Set when the server stops the run (shutting down): it is then stored ``failed`` with it."""

    def _ended(self, response: dict[str, Any], completed_at_us: int | None,
               closing_events: list[dict[str, Any]]) -> tuple[Write, Write]:
        """Also: the parameters again, as the run prepared them (with what it learned since the
        response was queued, such as its ``context_edits``), the closing events, the job gone."""
        params = (update(responses).where(responses.c.id == response["id"]).values(params=self._row["params"]), None)
        own, appended = self._final_writes(response, completed_at_us)
        return [params, *own, *events_write(response["id"], closing_events), *job_done_write(response["id"])], appended

    def _abandoned(self, response: dict[str, Any]) -> dict[str, Any]:
        if self.stopped_error is not None:
            return {**response, "status": "failed", "error": self.stopped_error}
        return response


class ResponseStore:
    def __init__(self, engine: AsyncEngine, writer: BatchWriter, leases: ResponseLeases) -> None:
        self.engine = engine
        self.writer = writer
        self.leases = leases

    # writes

    def begin(self, *, response_id: str, created_at_us: int, params: dict[str, Any],
              input_items: list[dict[str, Any]], hold: ConversationHold | None = None,
              conversation_input: list[dict[str, Any]] | None = None, owner: str | None = None) -> RunRecord:
        """Start storing a response; its in-progress row is written only if it runs a while.

        ``hold``: the response's hold on its conversation, released by its final write, which
        appends ``conversation_input`` (the input as conversation items) and the output."""
        row = _row(response_id, created_at_us, params, hold, owner)
        return RunRecord(self.writer, self.leases, row, _item_rows(response_id, "input", input_items), hold,
                         conversation_input or [])

    async def enqueue(self, *, response_id: str, created_at_us: int, params: dict[str, Any],
                      input_items: list[dict[str, Any]], hold: ConversationHold | None, sealed_request: str,
                      sealed_by: str, events: list[dict[str, Any]], claimed: bool,
                      owner: str | None = None) -> None:
        """Store a background response with its job and first events; wait for it. ``claimed``:
        this process runs it at once (it is stored in progress, under a lease), else it is ``queued``."""
        row = _row(response_id, created_at_us, params, hold, owner)
        if claimed:
            row["lease_expires_at"] = self.leases.expiry()
            row["runner"] = self.leases.process_id
        else:
            row["status"] = "queued"
        await self.writer.submit([*_insert_write(row, _item_rows(response_id, "input", input_items)),
                                  *job_write(response_id, sealed_request, sealed_by),
                                  *events_write(response_id, events)])

    def resume(self, *, response_id: str, params: dict[str, Any], hold: ConversationHold | None,
               conversation_input: list[dict[str, Any]] | None) -> BackgroundRecord:
        """The record of a background response this process has claimed (its row is in progress)."""
        row = _row(response_id, 0, params, hold, None)
        return BackgroundRecord(self.writer, self.leases, row, hold, conversation_input or [])

    async def delete(self, response_id: str) -> bool:
        if not storable(response_id):
            return False
        async with self.engine.begin() as connection:
            owned = (await connection.execute(select(responses.c.id).where(
                responses.c.id == response_id, principals.owner_filter(responses.c.owner)))).first()
            if owned is None:
                return False
            for dependent in (response_items, response_events, response_jobs):
                await connection.execute(delete(dependent).where(dependent.c.response_id == response_id))
            result = await connection.execute(delete(responses).where(responses.c.id == response_id))
        return result.rowcount > 0

    # reads

    async def get(self, response_id: str) -> tuple[StoredResponse, list[dict[str, Any]]] | None:
        """The row and its output items."""
        if not storable(response_id):
            return None
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(responses).where(
                responses.c.id == response_id, principals.owner_filter(responses.c.owner)))).first()
            if row is None:
                return None
            output = await self._items(connection, response_id, "output")
        return self._stored(row), output

    async def get_status_and_history(self, response_id: str) -> tuple[str, list[dict[str, Any]]] | None:
        """The response's status and the items of its whole chain, oldest first."""
        if not storable(response_id):
            return None
        async with self.engine.connect() as connection:
            status = (await connection.execute(select(responses.c.status).where(
                responses.c.id == response_id, principals.owner_filter(responses.c.owner)))).scalar()
            if status is None:
                return None
            items = (await connection.execute(HISTORY, {"id": response_id})).scalars().all()
        return status, list(items)

    async def items_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Stored input and output items of any response, by item id."""
        found = [item_id for item_id in ids if storable(item_id)]
        if not found:
            return {}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(response_items.c.id, response_items.c.data)
                .join(responses, responses.c.id == response_items.c.response_id)
                .where(response_items.c.id.in_(found), principals.owner_filter(responses.c.owner)))).all()
        return {row.id: row.data for row in rows}

    async def input_items(self, response_id: str, *, after: str | None, limit: int,
                          order: Order) -> Page | None:
        if not storable(response_id):
            return None
        async with self.engine.connect() as connection:
            exists = (await connection.execute(select(responses.c.id).where(
                responses.c.id == response_id, principals.owner_filter(responses.c.owner)))).first()
            if exists is None:
                return None
            query = select(response_items.c.data).where(
                response_items.c.response_id == response_id, response_items.c.role == "input")
            if after is not None and storable(after):
                cursor = (await connection.execute(
                    select(response_items.c.position).where(
                        response_items.c.response_id == response_id, response_items.c.role == "input",
                        response_items.c.id == after).order_by(response_items.c.position).limit(1))).scalar()
                if cursor is not None:
                    query = query.where(response_items.c.position > cursor if order == "asc"
                                        else response_items.c.position < cursor)
            position = response_items.c.position
            query = query.order_by(position.asc() if order == "asc" else position.desc()).limit(limit + 1)
            data = list((await connection.execute(query)).scalars().all())
        return Page(data=data[:limit], has_more=len(data) > limit)

    async def list_page(self, *, after: str | None, limit: int, order: Order,
                   model: str | None) -> tuple[list[tuple[StoredResponse, list[dict[str, Any]]]], bool]:
        if model is not None and not storable(model, MODEL_LENGTH):
            return [], False
        async with self.engine.connect() as connection:
            query = select(responses).where(principals.owner_filter(responses.c.owner))
            if model is not None:
                query = query.where(responses.c.model == model)
            query = await keyset_page(connection, query, responses, responses.c.id, after, order)
            rows = (await connection.execute(query.limit(limit + 1))).all()
            page = rows[:limit]
            outputs = await self._outputs(connection, [row.id for row in page])
        return [(self._stored(row), outputs.get(row.id, [])) for row in page], len(rows) > limit

    # helpers

    async def _items(self, connection: AsyncConnection, response_id: str, role: str) -> list[dict[str, Any]]:
        query = (select(response_items.c.data)
                 .where(response_items.c.response_id == response_id, response_items.c.role == role)
                 .order_by(response_items.c.position))
        return list((await connection.execute(query)).scalars().all())

    async def _outputs(self, connection: AsyncConnection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not ids:
            return {}
        query = (select(response_items.c.response_id, response_items.c.data)
                 .where(response_items.c.response_id.in_(ids), response_items.c.role == "output")
                 .order_by(response_items.c.response_id, response_items.c.position))
        outputs: dict[str, list[dict[str, Any]]] = {}
        for response_id, data in (await connection.execute(query)).all():
            outputs.setdefault(response_id, []).append(data)
        return outputs

    @staticmethod
    def _stored(row: Any) -> StoredResponse:
        return StoredResponse(
            id=row.id, status=row.status, created_at_us=row.created_at, completed_at_us=row.completed_at,
            params=row.params, usage=row.usage, error=row.error, incomplete_details=row.incomplete_details,
        )

