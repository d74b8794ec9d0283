"""The Conversations API over the store; a conversation's items are its responses' context."""

from __future__ import annotations

import re
from typing import Any

from orrery.errors import Conflict, InvalidRequest, NotFound
from orrery.ids import new_id
from orrery.store.common import Order
from orrery.store.conversations import ConversationHold, ConversationStore, StoredConversation
from orrery.tools.registry import visible_item
from orrery.wire import objects
from orrery.wire.items import InputItem
from orrery.wire.shapes import ListPage

CONVERSATION_ID = re.compile(r"^conv_[A-Za-z0-9_-]{1,123}$")


def conversation_view(stored: StoredConversation) -> dict[str, Any]:
    return {"id": stored.id, "object": "conversation", "created_at": stored.created_at_us // 1_000_000,
            "metadata": stored.metadata}


def conversation_items(items: list[InputItem]) -> list[dict[str, Any]]:
    """Request items as conversation items: with ids, messages with typed content parts."""
    return [objects.input_item_view(objects.stored_item(model)) for model in items]


class ConversationService:
    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    @staticmethod
    def check_id(conversation_id: str, param: str = "conversation_id") -> None:
        if not CONVERSATION_ID.match(conversation_id):
            raise InvalidRequest(f"Invalid '{param}': '{conversation_id[:140]}'. Expected an ID that begins "
                                 "with 'conv_'.", param=param, code="invalid_value")

    async def _existing(self, conversation_id: str) -> StoredConversation:
        self.check_id(conversation_id)
        stored = await self.store.get(conversation_id)
        if stored is None:
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")
        return stored

    async def create(self, items: list[InputItem], metadata: dict[str, str]) -> dict[str, Any]:
        stored = await self.store.create(new_id("conv"), metadata, conversation_items(items))
        return conversation_view(stored)

    async def retrieve(self, conversation_id: str) -> dict[str, Any]:
        return conversation_view(await self._existing(conversation_id))

    async def list_page(self, *, after: str | None, limit: int, order: Order) -> ListPage:
        stored, has_more = await self.store.list_page(after=after, limit=limit, order=order)
        return objects.list_page([conversation_view(conversation) for conversation in stored], has_more)

    async def update(self, conversation_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        await self._existing(conversation_id)
        stored = await self.store.update_metadata(conversation_id, metadata)
        if stored is None:
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")
        return conversation_view(stored)

    async def delete(self, conversation_id: str) -> dict[str, Any]:
        self.check_id(conversation_id)
        if not await self.store.delete(conversation_id):
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def add_items(self, conversation_id: str, items: list[InputItem], include: list[str]) -> ListPage:
        self.check_id(conversation_id)
        stored = conversation_items(items)
        if not await self.store.append(conversation_id, stored):
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")
        return objects.list_page([visible_item(item, include) for item in stored], has_more=False)

    async def list_items(self, conversation_id: str, *, after: str | None, limit: int, order: Order,
                         include: list[str]) -> ListPage:
        """Items as stored; tool results and sources only when ``include`` asks for them."""
        await self._existing(conversation_id)
        page = await self.store.items_page(conversation_id, after=after, limit=limit, order=order)
        return objects.list_page([visible_item(item, include) for item in page.data], page.has_more)

    async def retrieve_item(self, conversation_id: str, item_id: str, include: list[str]) -> dict[str, Any]:
        await self._existing(conversation_id)
        item = await self.store.get_item(conversation_id, item_id)
        if item is None:
            raise NotFound(f"Item with id '{item_id}' not found in conversation '{conversation_id}'.",
                           param="item_id")
        return visible_item(item, include)

    async def delete_item(self, conversation_id: str, item_id: str) -> dict[str, Any]:
        stored = await self._existing(conversation_id)
        if not await self.store.delete_item(conversation_id, item_id):
            raise NotFound(f"Item with id '{item_id}' not found in conversation '{conversation_id}'.",
                           param="item_id")
        return conversation_view(stored)

    async def history_for(self, conversation_id: str) -> list[dict[str, Any]]:
        """The items a response that is not stored starts from."""
        self.check_id(conversation_id, param="conversation")
        if await self.store.get(conversation_id) is None:
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation")
        return await self.store.all_items(conversation_id)

    async def hold_for(self, conversation_id: str, response_id: str) -> tuple[ConversationHold, list[dict[str, Any]]]:
        """The hold a stored response takes on its conversation, and the items it starts from.

        One stored response runs on a conversation at a time: a second one gets a 409 at once
        rather than waiting, so no turn is built on a history that is about to change.
        """
        self.check_id(conversation_id, param="conversation")
        hold = await self.store.acquire(conversation_id, response_id)
        if hold == "missing":
            raise NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation")
        if hold == "busy":
            raise Conflict(f"Another response is in progress on conversation '{conversation_id}'; "
                           "retry when it has finished.", param="conversation", code="conversation_locked")
        try:
            return hold, await self.store.all_items(conversation_id)
        except BaseException:
            hold.release()
            raise
