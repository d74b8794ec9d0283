"""Stored conversations and their items, which are the model's context for responses in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, case, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orrery import principals
from orrery.store.common import Order, Page, keyset_page, now_us, storable
from orrery.store.schema import Json, conversation_items, conversations
from orrery.store.writer import BatchWriter, StoreWriteError, Write


@dataclass(frozen=True)
class StoredConversation:
    id: str
    created_at_us: int
    metadata: dict[str, str]


def append_write(conversation_id: str, items: list[dict[str, Any]], *, release: str | None = None) -> Write:
    """Append ``items`` at the end, contiguously, in one transaction.

    The count is bumped first: on PostgreSQL that locks the conversation's row, so concurrent
    appenders queue behind each other and each reads the count the previous one left.
    ``release`` also ends that response's lease on the conversation.
    """
    values: dict[str, Any] = {"item_count": conversations.c.item_count + len(items)}
    if release is not None:
        values["active_response_id"] = case(
            (conversations.c.active_response_id == release, None), else_=conversations.c.active_response_id)
    write: Write = [(update(conversations).where(conversations.c.id == conversation_id).values(**values), None)]
    if items:
        count = select(conversations.c.item_count).where(conversations.c.id == conversation_id).scalar_subquery()
        now = now_us()
        rows = insert(conversation_items).values(
            conversation_id=conversation_id, position=count - bindparam("back"), id=bindparam("item_id"),
            type=bindparam("item_type"), data=bindparam("item_data", type_=Json), created_at=now)
        write.append((rows, [{"back": len(items) - i, "item_id": item["id"],
                              "item_type": item.get("type", "message"), "item_data": item}
                             for i, item in enumerate(items)]))
    return write


class ConversationHold:
    """A stored response's hold on its conversation, from the moment it is taken to its release.

    Whoever runs the response releases it exactly once, however the response ends: alone, when it
    ends before being stored (an error before its stream, a client gone), or with the final write
    that appends the response's items. Releasing again does nothing.
    """

    def __init__(self, store: ConversationStore, conversation_id: str, response_id: str) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.response_id = response_id
        self.released = False

    def release(self) -> None:
        """Give the hold back, appending nothing; not awaited."""
        if not self.released:
            self.released = True
            self.store.writer.submit_detached(append_write(self.conversation_id, [], release=self.response_id))

    def release_with(self, items: list[dict[str, Any]]) -> Write:
        """The write that appends ``items`` and gives the hold back, in one transaction (empty once
        the hold is released)."""
        if self.released:
            return []
        self.released = True
        return append_write(self.conversation_id, items, release=self.response_id)


class ConversationStore:
    def __init__(self, engine: AsyncEngine, writer: BatchWriter, lease_seconds: float) -> None:
        """``lease_seconds``: how long a response holds a conversation unless its process renews
        the hold (see ``response_leases``), so a crashed process's hold runs out."""
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.writer = writer

    async def create(self, conversation_id: str, metadata: dict[str, str],
                     items: list[dict[str, Any]]) -> StoredConversation:
        created_at_us = now_us()
        row = {"id": conversation_id, "created_at": created_at_us, "metadata": metadata, "item_count": 0,
               "owner": principals.owner()}
        await self.writer.submit([(insert(conversations), [row]), *append_write(conversation_id, items)])
        return StoredConversation(conversation_id, created_at_us, metadata)

    async def get(self, conversation_id: str) -> StoredConversation | None:
        if not storable(conversation_id):
            return None
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(conversations.c.id, conversations.c.created_at, conversations.c.metadata)
                .where(conversations.c.id == conversation_id, principals.owner_filter(conversations.c.owner)))).first()
        return StoredConversation(row.id, row.created_at, row.metadata) if row else None

    async def list_page(self, *, after: str | None, limit: int,
                        order: Order) -> tuple[list[StoredConversation], bool]:
        """The conversations the current principal may see, newest first with ``order="desc"``."""
        owned = principals.owner_filter(conversations.c.owner)
        async with self.engine.connect() as connection:
            query = select(conversations.c.id, conversations.c.created_at, conversations.c.metadata).where(owned)
            query = await keyset_page(connection, query, conversations, conversations.c.id, after, order, owned)
            rows = (await connection.execute(query.limit(limit + 1))).all()
        return [StoredConversation(row.id, row.created_at, row.metadata) for row in rows[:limit]], len(rows) > limit

    async def update_metadata(self, conversation_id: str, metadata: dict[str, str]) -> StoredConversation | None:
        if not storable(conversation_id):
            return None
        async with self.engine.begin() as connection:
            await connection.execute(update(conversations).where(
                conversations.c.id == conversation_id, principals.owner_filter(conversations.c.owner))
                .values(metadata=metadata))
        return await self.get(conversation_id)

    async def delete(self, conversation_id: str) -> bool:
        if not storable(conversation_id):
            return False
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(conversations).where(
                conversations.c.id == conversation_id, principals.owner_filter(conversations.c.owner)))
            if result.rowcount:
                await connection.execute(delete(conversation_items)
                                         .where(conversation_items.c.conversation_id == conversation_id))
        return result.rowcount > 0

    async def append(self, conversation_id: str, items: list[dict[str, Any]]) -> bool:
        """Append items; False when the conversation does not exist (or was deleted meanwhile)."""
        if await self.get(conversation_id) is None:
            return False
        try:
            await self.writer.submit(append_write(conversation_id, items))
        except StoreWriteError:
            if await self.get(conversation_id) is None:
                return False
            raise
        return True

    async def acquire(self, conversation_id: str, response_id: str) -> ConversationHold | Literal["missing", "busy"]:
        """Let one stored response at a time run on a conversation."""
        if not storable(conversation_id):
            return "missing"
        now = now_us()
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, principals.owner_filter(conversations.c.owner),
                       or_(conversations.c.active_response_id.is_(None),
                           conversations.c.active_since < now - int(self.lease_seconds * 1_000_000)))
                .values(active_response_id=response_id, active_since=now))
        if result.rowcount == 1:
            return ConversationHold(self, conversation_id, response_id)
        return "busy" if await self.get(conversation_id) is not None else "missing"

    async def all_items(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            query = (select(conversation_items.c.data)
                     .where(conversation_items.c.conversation_id == conversation_id)
                     .order_by(conversation_items.c.position))
            return list((await connection.execute(query)).scalars().all())

    async def items_by_id(self, conversation_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Items of the conversation, by item id."""
        found = [item_id for item_id in ids if storable(item_id)]
        if not found:
            return {}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(conversation_items.c.id, conversation_items.c.data)
                .join(conversations, conversations.c.id == conversation_items.c.conversation_id)
                .where(conversation_items.c.conversation_id == conversation_id,
                       conversation_items.c.id.in_(found), principals.owner_filter(conversations.c.owner)))).all()
        return {row.id: row.data for row in rows}

    async def items_page(self, conversation_id: str, *, after: str | None, limit: int, order: Order) -> Page:
        position = conversation_items.c.position
        query = select(conversation_items.c.data).where(conversation_items.c.conversation_id == conversation_id)
        async with self.engine.connect() as connection:
            if after is not None and storable(after):
                cursor = (await connection.execute(
                    select(position).where(conversation_items.c.conversation_id == conversation_id,
                                           conversation_items.c.id == after).order_by(position).limit(1))).scalar()
                if cursor is not None:
                    query = query.where(position > cursor if order == "asc" else position < cursor)
            query = query.order_by(position.asc() if order == "asc" else position.desc()).limit(limit + 1)
            data = list((await connection.execute(query)).scalars().all())
        return Page(data=data[:limit], has_more=len(data) > limit)

    async def get_item(self, conversation_id: str, item_id: str) -> dict[str, Any] | None:
        if not storable(item_id):
            return None
        async with self.engine.connect() as connection:
            return (await connection.execute(
                select(conversation_items.c.data)
                .where(conversation_items.c.conversation_id == conversation_id, conversation_items.c.id == item_id)
                .order_by(conversation_items.c.position).limit(1))).scalar()

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        if not storable(item_id):
            return False
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(conversation_items)
                .where(conversation_items.c.conversation_id == conversation_id, conversation_items.c.id == item_id))
        return result.rowcount > 0
