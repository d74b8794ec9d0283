"""Request models for ``POST /v1/responses``: strict where OpenAI is strict, OpenAI-shaped errors.

Items a client echoes back from an earlier response carry fields we do not use (``status``,
``annotations``…), so item models ignore extras; top-level parameters are strict, as OpenAI's are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictFloat, StrictInt,
                      StringConstraints, Tag)

Role = Literal["user", "assistant", "system", "developer"]


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 16:
        raise ValueError("metadata may hold at most 16 keys")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"metadata key {key[:70]!r} is longer than 64 characters")
        if len(item) > 512:
            raise ValueError(f"metadata value of {key!r} is longer than 512 characters")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]
"""OpenAI's metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters."""

NO_NUL = r"^[^\x00]*$"
Identifier = Annotated[str, StringConstraints(max_length=128, pattern=NO_NUL)]
"""An id we store and look up: at most 128 characters and no NUL, which SQL text refuses."""
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputText(_Lenient):
    type: Literal["input_text"]
    text: str


class InputImage(_Lenient):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"


class InputFile(_Lenient):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(_Lenient):
    type: Literal["output_text"]
    text: str


class Refusal(_Lenient):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    Union[InputText, InputImage, InputFile, OutputText, Refusal], Field(discriminator="type")
]


class MessageItem(_Lenient):
    type: Literal["message"] = "message"
    role: Role
    content: str | list[ContentPart]
    id: Identifier | None = None


class FunctionCallItem(_Lenient):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: Identifier | None = None


class FunctionCallOutputItem(_Lenient):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[ContentPart]
    id: Identifier | None = None


class ReasoningItem(_Lenient):
    type: Literal["reasoning"]
    id: Identifier | None = None
    summary: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None


ToolItemType = Literal[
    "computer_call", "computer_call_output", "code_interpreter_call", "image_generation_call", "local_shell_call",
    "local_shell_call_output", "custom_tool_call", "custom_tool_call_output",
]


TOOL_ITEM_TYPES = frozenset(get_args(ToolItemType))


class ToolCallItem(_Lenient):
    """An item of a tool this server does not run itself; kept as given, not shown to the model."""

    type: ToolItemType
    id: Identifier | None = None


class FileSearchResult(_Lenient):
    file_id: str
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: dict[str, Any] | None = None


class FileSearchCallItem(_Lenient):
    """A ``file_search_call`` sent back by the client: shown to the model again as the search it was."""

    type: Literal["file_search_call"]
    id: Identifier
    queries: list[str] = []
    status: str | None = None
    results: list[FileSearchResult] | None = None


class WebSearchAction(_Lenient):
    type: Literal["search", "open_page", "find_in_page"]
    query: str | None = None


class WebSearchPage(_Lenient):
    url: str
    title: str | None = None
    content: str | None = None


class WebSearchCallItem(_Lenient):
    """A ``web_search_call`` sent back by the client (``results`` are ours, kept by a stored item)."""

    type: Literal["web_search_call"]
    id: Identifier
    status: str
    action: WebSearchAction
    results: list[WebSearchPage] | None = None


class McpCallItem(_Lenient):
    type: Literal["mcp_call"]
    id: Identifier
    server_label: str
    name: str
    arguments: str
    status: str | None = None
    output: str | None = None
    error: dict[str, Any] | str | None = None


class McpApprovalRequestItem(_Lenient):
    type: Literal["mcp_approval_request"]
    id: Identifier
    server_label: str
    name: str
    arguments: str


class McpListedTool(_Lenient):
    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    annotations: dict[str, Any] | None = None


class McpListToolsItem(_Lenient):
    type: Literal["mcp_list_tools"]
    id: Identifier
    server_label: str
    tools: list[McpListedTool]
    error: str | None = None


class McpApprovalResponseItem(_Lenient):
    """The client's answer to an ``mcp_approval_request``: the call runs in this response if approved."""

    type: Literal["mcp_approval_response"]
    id: Identifier | None = None
    approval_request_id: Identifier
    approve: StrictBool
    reason: str | None = None


def _item_tag(value: Any) -> str | None:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", None)
    return "tool_item" if isinstance(kind, str) and kind in TOOL_ITEM_TYPES else kind


InputItem = Annotated[
    Union[
        Annotated[MessageItem, Tag("message")],
        Annotated[FunctionCallItem, Tag("function_call")],
        Annotated[FunctionCallOutputItem, Tag("function_call_output")],
        Annotated[ReasoningItem, Tag("reasoning")],
        Annotated[FileSearchCallItem, Tag("file_search_call")],
        Annotated[WebSearchCallItem, Tag("web_search_call")],
        Annotated[McpCallItem, Tag("mcp_call")],
        Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")],
        Annotated[McpListToolsItem, Tag("mcp_list_tools")],
        Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")],
        Annotated[ToolCallItem, Tag("tool_item")],
    ],
    Discriminator(_item_tag),
]


class FunctionTool(_Strict):
    type: Literal["function"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ComparisonFilter(_Strict):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str
    value: Union[StrictBool, StrictInt, StrictFloat, str, list[Union[StrictInt, StrictFloat, str]]]


def _filter_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "compound" if kind in ("and", "or") else "comparison"


class CompoundFilter(_Strict):
    type: Literal["and", "or"]
    filters: list[Filter] = Field(min_length=1)


Filter = Annotated[
    Union[Annotated[ComparisonFilter, Tag("comparison")], Annotated[CompoundFilter, Tag("compound")]],
    Discriminator(_filter_tag),
]
CompoundFilter.model_rebuild()


class FileSearchRankingOptions(_Lenient):
    ranker: Literal["auto", "default-2024-11-15", "none"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)


class FileSearchTool(_Strict):
    type: Literal["file_search"]
    vector_store_ids: list[Identifier] = Field(min_length=1, max_length=16)
    filters: Filter | None = None
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: FileSearchRankingOptions | None = None


WebSearchType = Literal["web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"]


class WebSearchFilters(_Lenient):
    allowed_domains: list[str] | None = Field(default=None, max_length=100)


class UserLocation(_Lenient):
    type: Literal["approximate"] | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchTool(_Strict):
    type: WebSearchType
    filters: WebSearchFilters | None = None
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: UserLocation | None = None
    external_web_access: bool | None = None
    search_content_types: list[Literal["text", "image"]] | None = None


class McpToolFilter(_Strict):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(_Strict):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(_Strict):
    """A remote MCP server whose tools the model may call; ``headers`` and ``authorization`` are
    secrets: used to reach the server, never stored, echoed or recorded."""

    type: Literal["mcp"]
    server_label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    server_url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s\x00]+$")] | None = None
    connector_id: str | None = None
    server_description: str | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    defer_loading: bool | None = None


Tool = Annotated[Union[FunctionTool, FileSearchTool, WebSearchTool, McpTool], Field(discriminator="type")]


class FunctionChoice(_Strict):
    type: Literal["function"]
    name: str


class McpChoice(_Strict):
    type: Literal["mcp"]
    server_label: str
    name: str | None = None


class HostedToolChoice(_Strict):
    type: Literal["file_search", "web_search_preview", "web_search_preview_2025_03_11"]


class AllowedFunction(_Lenient):
    type: Literal["function"]
    name: str


class AllowedHostedTool(_Lenient):
    type: Literal["file_search"] | WebSearchType


class AllowedMcp(_Lenient):
    type: Literal["mcp"]
    server_label: str


AllowedTool = Annotated[Union[AllowedFunction, AllowedHostedTool, AllowedMcp], Field(discriminator="type")]


class AllowedToolsChoice(_Strict):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[AllowedTool]


ToolChoice = Union[
    Literal["none", "auto", "required"],
    Annotated[Union[FunctionChoice, AllowedToolsChoice, HostedToolChoice, McpChoice], Field(discriminator="type")],
]


class TextFormatText(_Strict):
    type: Literal["text"]


class TextFormatJSONObject(_Strict):
    type: Literal["json_object"]


class TextFormatJSONSchema(_Strict):
    type: Literal["json_schema"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    Union[TextFormatText, TextFormatJSONObject, TextFormatJSONSchema], Field(discriminator="type")
]


class TextConfig(_Strict):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Strict):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class ConversationRef(_Strict):
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


class StreamOptions(_Strict):
    include_obfuscation: bool | None = None


class CreateResponseRequest(_Strict):
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


MAX_ITEMS_PER_REQUEST = 20


class CreateConversationRequest(_Strict):
    items: list[InputItem] | None = Field(default=None, max_length=MAX_ITEMS_PER_REQUEST)
    metadata: Metadata | None = None



class UpdateConversationRequest(_Strict):
    metadata: Metadata | None



class CreateItemsRequest(_Strict):
    items: list[InputItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)


class AutoChunking(_Strict):
    type: Literal["auto"]


class StaticChunkingSizes(_Strict):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)


class StaticChunking(_Strict):
    type: Literal["static"]
    static: StaticChunkingSizes

    def model_post_init(self, _context: Any) -> None:
        if self.static.chunk_overlap_tokens > self.static.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens may be at most half of max_chunk_size_tokens")


ChunkingStrategy = Annotated[Union[AutoChunking, StaticChunking], Field(discriminator="type")]

AttributeValue = Union[StrictBool, StrictInt, StrictFloat, Annotated[str, StringConstraints(max_length=512)]]


def _check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 16:
        raise ValueError("attributes may hold at most 16 keys")
    for key in value:
        if len(key) > 64:
            raise ValueError(f"attribute key {key[:70]!r} is longer than 64 characters")
    return value


Attributes = Annotated[dict[str, AttributeValue], AfterValidator(_check_attributes)]
VectorStoreName = Annotated[str, StringConstraints(max_length=1024)]


class StoreExpiry(_Strict):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateVectorStoreRequest(_Strict):
    name: VectorStoreName | None = None
    description: str | None = None
    file_ids: list[Identifier] | None = Field(default=None, max_length=500)
    metadata: Metadata | None = None
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: StoreExpiry | None = None
    embedding_model: ModelName | None = None


class UpdateVectorStoreRequest(_Strict):
    name: VectorStoreName | None = None
    metadata: Metadata | None = None
    expires_after: StoreExpiry | None = None


class CreateVectorStoreFileRequest(_Strict):
    file_id: Identifier
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class UpdateVectorStoreFileRequest(_Strict):
    attributes: Attributes | None


class BatchFile(_Strict):
    file_id: Identifier
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class CreateFileBatchRequest(_Strict):
    file_ids: list[Identifier] | None = Field(default=None, min_length=1, max_length=500)
    files: list[BatchFile] | None = Field(default=None, min_length=1, max_length=500)
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class RankingOptions(_Strict):
    ranker: Literal["auto", "default-2024-11-15", "none"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)


SearchMode = Literal["vector", "keyword", "hybrid"]


class SearchRequest(_Strict):
    query: Annotated[str, StringConstraints(min_length=1)] | list[Annotated[str, StringConstraints(min_length=1)]]
    filters: Filter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool | None = None
    search_mode: SearchMode = "vector"
