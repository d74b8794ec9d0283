"""Request models of ``/v1/conversations`` and their items."""

from __future__ import annotations

from pydantic import Field

from orrery.wire.common import Metadata, StrictModel
from orrery.wire.items import InputItem

MAX_ITEMS_PER_REQUEST = 20


class CreateConversationRequest(StrictModel):
    items: list[InputItem] | None = Field(default=None, max_length=MAX_ITEMS_PER_REQUEST)
    metadata: Metadata | None = None


class UpdateConversationRequest(StrictModel):
    metadata: Metadata | None


class CreateItemsRequest(StrictModel):
    items: list[InputItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)


