"""Request models of ``POST /v1/responses``: strict where OpenAI is strict, OpenAI-shaped errors.

Tool entries are declared by their kinds (see ``orrery.tools.registry``); items by ``items``.
What the server does with each parameter is ``orrery.wire.policy``'s table; the parameters it
refuses are refused here, once their value is valid, with the reason that table gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from orrery.tools.registry import TOOL_MODELS
from orrery.wire.common import Identifier, LenientModel, Metadata, ModelName, StrictModel, at_most
from orrery.wire.items import InputItem
from orrery.wire.policy import PARAMETERS, REFUSED

if TYPE_CHECKING:
    Tool = BaseModel
else:
    Tool = Annotated[Union[TOOL_MODELS], Field(discriminator="type")]  # noqa: UP007 (built at run time)
    """Any entry of ``tools``; the union is built from the request model of every kind of tool."""


MAX_INPUT_ITEMS = 16384
"""OpenAI's cap on the items of one request's ``input``."""


class FunctionChoice(StrictModel):
    type: Literal["function"]
    name: str


class CustomChoice(StrictModel):
    type: Literal["custom"]
    name: str


class McpChoice(StrictModel):
    type: Literal["mcp"]
    server_label: str
    name: str | None = None


class HostedToolChoice(StrictModel):
    """A tool named by its type alone (built-in tools, and the client-run shell and apply_patch)."""

    type: Literal["file_search", "web_search_preview", "web_search_preview_2025_03_11", "shell", "apply_patch"]


class AllowedFunction(LenientModel):
    type: Literal["function", "custom"]
    name: str


class AllowedHostedTool(LenientModel):
    type: Literal["file_search", "web_search", "web_search_2025_08_26", "web_search_preview",
                  "web_search_preview_2025_03_11", "local_shell", "shell", "apply_patch", "tool_search"]


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
    | Annotated[FunctionChoice | CustomChoice | AllowedToolsChoice | HostedToolChoice | McpChoice,
                Field(discriminator="type")]
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
    context: Literal["auto", "current_turn", "all_turns"] | None = None
    mode: str | None = None


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


class AccessPrograms(StrictModel):
    cyber: Literal["standard", "daybreak_blue", "daybreak_red"] | None = None


class BackgroundOptions(StrictModel):
    completion_window: Literal["soonest", "2h", "8h"] | None = None
    continuation_id: str | None = None


class ContextManagement(StrictModel):
    type: Literal["compaction"]
    compact_threshold: int | None = Field(default=None, ge=1)


class ImageOptions(StrictModel):
    context_compression: Literal["auto", "enabled", "disabled"] | None = None


class ModerationMode(StrictModel):
    mode: Literal["score", "block"]


class ModerationPolicy(StrictModel):
    input: ModerationMode | None = None
    output: ModerationMode | None = None


class Moderation(StrictModel):
    model: str
    policy: ModerationPolicy | None = None


class PromptRef(StrictModel):
    id: str
    variables: dict[str, Any] | None = None
    version: str | None = None


class PromptCacheOptions(StrictModel):
    comparison_response_id: str | None = None
    mode: Literal["implicit", "explicit"] | None = None
    prewarm: bool | None = None
    ttl: Literal["30m", "12h"] | None = None


ServiceTier = Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]

REFUSED_PARAMETERS = tuple(name for name, entry in PARAMETERS.items() if entry.policy == REFUSED)
"""Refused whatever their value."""


class ModelContext(StrictModel):
    """The model and what it is shown: the fields a create and an input-token count share.
    Scalars are strict, as OpenAI's are: ``"0.5"`` is not a temperature."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: ModelName
    input: Annotated[str | list[InputItem], at_most(MAX_INPUT_ITEMS)] = Field(default_factory=list)
    instructions: str | None = None
    previous_response_id: Identifier | None = None
    conversation: Identifier | ConversationRef | None = None

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, ConversationRef):
            return self.conversation.id
        return self.conversation


class CreateResponseRequest(ModelContext):
    """Every parameter of the openai SDK's ``ResponseCreateParams``, ``presence_penalty`` and
    ``frequency_penalty`` (Open Responses has them), and the Codex CLI's ``client_metadata``."""

    store: bool = True
    stream: bool = False
    stream_options: StreamOptions | None = None
    background: bool | None = None
    background_options: BackgroundOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    metadata: Metadata | None = None
    client_metadata: dict[str, str] | None = None
    text: TextConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    include: list[Includable] | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    safety_identifier: str | None = None
    prompt: PromptRef | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: PromptCacheOptions | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    reasoning: ReasoningConfig | None = None
    service_tier: ServiceTier | None = None
    truncation: Literal["auto", "disabled"] | None = None
    context_management: list[ContextManagement] | None = None
    access_programs: AccessPrograms | None = None
    image: ImageOptions | None = None
    moderation: Moderation | None = None

    @field_validator(*REFUSED_PARAMETERS)
    @classmethod
    def _refused(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise PydanticCustomError("unsupported_parameter", "unsupported parameter",
                                      {"reason": PARAMETERS[str(info.field_name)].reason})
        return value

    @property
    def compact_threshold(self) -> int | None:
        """The threshold of the ``compaction`` entry of ``context_management``, if one was set."""
        for entry in self.context_management or ():
            if entry.compact_threshold is not None:
                return entry.compact_threshold
        return None


class CountInputTokensRequest(ModelContext):
    """``POST /v1/responses/input_tokens``: the parts of a create that decide what the model reads."""

    text: TextConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    truncation: Literal["auto", "disabled"] | None = None
    personality: str | None = None

    def as_create(self) -> CreateResponseRequest:
        """The create request whose upstream body is counted: not stored, so it holds nothing."""
        fields = {name: getattr(self, name) for name in type(self).model_fields if name != "personality"}
        return CreateResponseRequest.model_construct(**fields, store=False)


class CompactRequest(StrictModel):
    """``POST /v1/responses/compact``: the SDK's ``ResponseCompactParams``, and what the Codex CLI
    sends besides (its tools, ``parallel_tool_calls``, ``reasoning`` and ``text``, which shape the
    turn it compacts and not the summary)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: ModelName
    input: Annotated[str | list[InputItem] | None, at_most(MAX_INPUT_ITEMS)] = None
    instructions: str | None = None
    previous_response_id: Identifier | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: PromptCacheOptions | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    service_tier: ServiceTier | None = None
    image: ImageOptions | None = None
    tools: list[Tool] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    text: TextConfig | None = None

    def as_create(self) -> CreateResponseRequest:
        """The create request whose context is compacted: not stored, so it holds nothing."""
        return CreateResponseRequest.model_construct(
            model=self.model, input=self.input or [], instructions=self.instructions,
            previous_response_id=self.previous_response_id, conversation=None, store=False)
