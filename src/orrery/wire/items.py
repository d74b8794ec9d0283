"""Input items, as ``input`` of a create request and as items of a conversation.

Messages, function calls and their outputs, and reasoning are the engine's own; items of a kind of
tool are declared by that kind (see ``orrery.tools.registry``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag

from orrery.tools.registry import ITEM_MODELS, literal_values
from orrery.wire.common import Identifier, LenientModel

Role = Literal["user", "assistant", "system", "developer"]


class InputText(LenientModel):
    type: Literal["input_text"]
    text: str


class InputImage(LenientModel):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"


class InputFile(LenientModel):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(LenientModel):
    type: Literal["output_text"]
    text: str


class Refusal(LenientModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")
]


class MessageItem(LenientModel):
    type: Literal["message"] = "message"
    role: Role
    content: str | list[ContentPart]
    id: Identifier | None = None


class FunctionCallItem(LenientModel):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: Identifier | None = None


class FunctionCallOutputItem(LenientModel):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[ContentPart]
    id: Identifier | None = None


class ReasoningItem(LenientModel):
    type: Literal["reasoning"]
    id: Identifier | None = None
    summary: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None


class CompactionItem(LenientModel):
    """A compaction: the summary of everything before it, sealed by this server."""

    type: Literal["compaction"]
    encrypted_content: str = Field(min_length=1)
    id: Identifier | None = None
    created_by: str | None = None


class CompactionTriggerItem(LenientModel):
    """Asks the response to compact the context instead of answering; the last input item."""

    type: Literal["compaction_trigger"]
    id: Identifier | None = None


ToolItemType = Literal[
    "computer_call", "computer_call_output", "code_interpreter_call", "image_generation_call",
]

TOOL_ITEM_TYPES = frozenset(get_args(ToolItemType))


class ToolCallItem(LenientModel):
    """An item of a tool this server does not run itself; kept as given, not shown to the model."""

    type: ToolItemType
    id: Identifier | None = None


class ItemReference(LenientModel):
    """An earlier item, by id: shown to the model as the stored item it names."""

    type: Annotated[Literal["item_reference"], BeforeValidator(lambda kind: kind or "item_reference")] = (
        "item_reference")
    id: Identifier


def _item_tag(value: Any) -> str | None:
    """The union member an item is validated as: by its ``type``; with none, a message, or a
    reference when it has an id and no role (the SDK's ``ItemReference`` may leave ``type`` out or
    null)."""
    if not isinstance(value, dict):
        kind = getattr(value, "type", None)
    elif "role" not in value and "id" in value and value.get("type", None) is None:
        kind = "item_reference"
    else:
        kind = value.get("type", "message")
    return "tool_item" if isinstance(kind, str) and kind in TOOL_ITEM_TYPES else kind


_ENGINE_ITEMS = (MessageItem, FunctionCallItem, FunctionCallOutputItem, ReasoningItem, ItemReference, CompactionItem,
                 CompactionTriggerItem)

if TYPE_CHECKING:
    InputItem = BaseModel
else:
    _TAGGED = [Annotated[model, Tag(literal_values(model)[0])] for model in (*_ENGINE_ITEMS, *ITEM_MODELS)]
    InputItem = Annotated[
        Union[tuple([*_TAGGED, Annotated[ToolCallItem, Tag("tool_item")]])],  # noqa: UP007 (built at run time)
        Discriminator(_item_tag),
    ]
    """Any input item; the union is built from the item models of every kind of tool."""

ITEM_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs",
                  "compaction": "cmp", "compaction_trigger": "cmpt"}
"""Id prefixes of the engine's input items, given to those a client sends without an id."""
