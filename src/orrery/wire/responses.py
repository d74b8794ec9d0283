"""Request models of ``POST /v1/responses``: strict where OpenAI is strict, OpenAI-shaped errors.

Tool entries are declared by their kinds (see ``orrery.tools.registry``); items by ``items``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, Field

from orrery.tools.registry import TOOL_MODELS
from orrery.wire.common import Identifier, LenientModel, Metadata, ModelName, StrictModel
from orrery.wire.items import InputItem

if TYPE_CHECKING:
    Tool = BaseModel
else:
    Tool = Annotated[Union[TOOL_MODELS], Field(discriminator="type")]  # noqa: UP007 (built at run time)
    """Any entry of ``tools``; the union is built from the request model of every kind of tool."""


class FunctionChoice(StrictModel):
    type: Literal["function"]
    name: str


class McpChoice(StrictModel):
    type: Literal["mcp"]
    server_label: str
    name: str | None = None


class HostedToolChoice(StrictModel):
    type: Literal["file_search", "web_search_preview", "web_search_preview_2025_03_11"]


class AllowedFunction(LenientModel):
    type: Literal["function"]
    name: str


class AllowedHostedTool(LenientModel):
    type: Literal["file_search", "web_search", "web_search_2025_08_26", "web_search_preview",
                  "web_search_preview_2025_03_11"]


class AllowedMcp(LenientModel):
    type: Literal["mcp"]
    server_label: str


AllowedTool = Annotated[AllowedFunction | AllowedHostedTool | AllowedMcp, Field(discriminator="type")]


class AllowedToolsChoice(StrictModel):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[AllowedTool]


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[FunctionChoice | AllowedToolsChoice | HostedToolChoice | McpChoice, Field(discriminator="type")]
)


class TextFormatText(StrictModel):
    type: Literal["text"]


class TextFormatJSONObject(StrictModel):
    type: Literal["json_object"]


class TextFormatJSONSchema(StrictModel):
    type: Literal["json_schema"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    TextFormatText | TextFormatJSONObject | TextFormatJSONSchema, Field(discriminator="type")
]


class TextConfig(StrictModel):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(StrictModel):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class ConversationRef(StrictModel):
    id: Identifier


Includable = Literal[
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
]


INCLUDABLE = frozenset(get_args(Includable))


class StreamOptions(StrictModel):
    include_obfuscation: bool | None = None


class CreateResponseRequest(StrictModel):
    model: ModelName
    input: str | list[InputItem] = Field(default_factory=list)
    instructions: str | None = None
    previous_response_id: Identifier | None = None
    conversation: Identifier | ConversationRef | None = None
    store: bool = True
    stream: bool = False
    stream_options: StreamOptions | None = None
    background: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    metadata: Metadata | None = None
    text: TextConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    include: list[Includable] | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    reasoning: ReasoningConfig | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    truncation: Literal["auto", "disabled"] | None = None

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, ConversationRef):
            return self.conversation.id
        return self.conversation


