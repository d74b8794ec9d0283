"""Request models of ``/v1/conversations`` and their items."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orrery.wire.common import Metadata, StrictModel, at_most
from orrery.wire.items import InputItem

MAX_ITEMS_PER_REQUEST = 20


class CreateConversationRequest(StrictModel):
    items: Annotated[list[InputItem] | None, at_most(MAX_ITEMS_PER_REQUEST)] = None
    metadata: Metadata | None = None


class UpdateConversationRequest(StrictModel):
    metadata: Metadata | None


class CreateItemsRequest(StrictModel):
    items: Annotated[list[InputItem], at_most(MAX_ITEMS_PER_REQUEST)] = Field(min_length=1)


