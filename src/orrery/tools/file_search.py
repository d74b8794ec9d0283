"""The ``file_search`` tool: offered to the model as the function ``knowledge_search``, its results
shown back as one ``tool`` message, in exactly the shapes of the seed recordings; the
``<|file-…|>`` markers the model cites them with become ``file_citation`` annotations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from orrery.errors import NotFound
from orrery.tools.base import (
    ChatFunction,
    Item,
    ModelCall,
    PreparedTools,
    Replay,
    Replayer,
    RequestTools,
    ToolEvent,
    ToolKind,
    ToolSetup,
    query_call,
    string_argument,
)
from orrery.tools.file_citations import CitationFilter, with_markers
from orrery.wire.common import Filter, Identifier, LenientModel, StrictModel

if TYPE_CHECKING:
    from orrery.vectors.service import VectorStoreService

log = logging.getLogger(__name__)

FUNCTION_NAME = "knowledge_search"
ITEM_PREFIX = "fs_"
DEFAULT_MAX_RESULTS = 10
INCLUDE_RESULTS = "file_search_call.results"

KNOWLEDGE_SEARCH: ChatFunction = {
    "type": "function",
    "function": {
        "name": FUNCTION_NAME,
        "description": "Search for information in a database.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": (
                "The query to search for. Can be a natural language sentence or keywords.")}},
            "required": ["query"],
        },
    },
}


class FileSearchRankingOptions(LenientModel):
    ranker: Literal["auto", "default-2024-11-15", "none"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)


class FileSearchTool(StrictModel):
    type: Literal["file_search"]
    vector_store_ids: list[Identifier] = Field(min_length=1, max_length=16)
    filters: Filter | None = None
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: FileSearchRankingOptions | None = None


class FileSearchResult(LenientModel):
    file_id: str
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: dict[str, Any] | None = None


class FileSearchCallItem(LenientModel):
    """A ``file_search_call`` sent back by the client: shown to the model again as the search it was."""

    type: Literal["file_search_call"]
    id: Identifier
    queries: list[str] = []
    status: str | None = None
    results: list[FileSearchResult] | None = None


def tool_result_parts(query: str, results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The content of the ``tool`` message answering a ``knowledge_search`` call.

    ``results`` are file_search_call results: ``file_id``, ``score``, ``attributes`` (shown as a
    Python dict, as the seeds show them) and ``text``.
    """
    parts = [{"type": "text", "text": f"{FUNCTION_NAME} tool found {len(results)} chunks:\n"
                                      f"BEGIN of {FUNCTION_NAME} tool results.\n"}]
    for number, result in enumerate(results, start=1):
        file_id = result["file_id"]
        parts.append({"type": "text", "text": (
            f"[{number}] document_id: {file_id}, score: {result.get('score')}, attributes: {result.get('attributes')} "
            f"(cite as <|{file_id}|>)\n{result.get('text') or ''}\n")})
    parts.append({"type": "text", "text": f"END of {FUNCTION_NAME} tool results.\n"})
    parts.append({"type": "text", "text": (
        f'The above results were retrieved to help answer the user\'s query: "{query}". Use them as supporting '
        "information only in answering this query. Cite sources immediately at the end of sentences before "
        "punctuation, using `<|file-id|>` format (e.g., 'This is a fact <|file-Cn3MSNn72ENTiiq11Qda4A|>.'). "
        "Do not add extra punctuation. Use only the file IDs provided (do not invent new ones).\n")})
    return parts


def replayed(item: Item) -> Replay:
    """A stored ``file_search_call`` as the model's call and the tool message it was answered with."""
    query = (item.get("queries") or [""])[0]
    call = query_call(item["id"].removeprefix(ITEM_PREFIX), FUNCTION_NAME, query)
    return Replay(calls=((call, tool_result_parts(query, item.get("results") or [])),))


class FileCitations:
    """The files the model may cite: every file a search of this response found so far."""

    def __init__(self) -> None:
        self.filenames: dict[str, str] = {}

    def stream_filter(self) -> CitationFilter:
        return CitationFilter(self.filenames)

    def annotations(self, text: str) -> list[dict[str, Any]]:
        return []


class FileSearchRunner:
    """Answers the model's ``knowledge_search`` calls from the request's ``file_search`` tool."""

    def __init__(self, vector_stores: VectorStoreService, tool: FileSearchTool, citations: FileCitations) -> None:
        self.vector_stores = vector_stores
        self.tool = tool
        self.citations = citations

    def offers(self, function_name: str) -> bool:
        return function_name == FUNCTION_NAME

    def start_item(self, call: ModelCall) -> Item:
        """The item id carries the model's tool-call id, to rebuild the turn later."""
        return {"id": ITEM_PREFIX + call.call_id, "type": "file_search_call", "status": "in_progress",
                "queries": [string_argument(call.arguments, "query")], "results": None}

    async def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        yield "response.file_search_call.in_progress", {}
        yield "response.file_search_call.searching", {}
        try:
            item["results"] = await self.search(item["queries"][0])
        except Exception:
            log.exception("file search for %r failed", item["queries"][0])
            item["results"], item["status"] = [], "failed"
            return
        item["status"] = "completed"
        self.citations.filenames.update((r["file_id"], r["filename"]) for r in item["results"])
        yield "response.file_search_call.completed", {}

    def answer(self, item: Item) -> Any:
        return tool_result_parts(item["queries"][0], item["results"] or [])

    async def search(self, query: str) -> list[dict[str, Any]]:
        """Results as a ``file_search_call`` item holds them."""
        options = self.tool.ranking_options
        hits = await self.vector_stores.search_hits(
            self.tool.vector_store_ids, [query],
            filters=self.tool.filters.model_dump() if self.tool.filters else None,
            max_results=self.tool.max_num_results or DEFAULT_MAX_RESULTS, mode="vector",
            score_threshold=options.score_threshold if options else None)
        return [{"file_id": r["file_id"], "filename": r["filename"], "score": r["score"],
                 "text": r["content"][0]["text"], "attributes": r["attributes"]}
                for r in await self.vector_stores.results(hits)]


class FileSearchKind(ToolKind):
    tool_types: ClassVar[tuple[str, ...]] = ("file_search",)
    tool_model = FileSearchTool
    item_models = (FileSearchCallItem,)
    call_item_types = frozenset({"file_search_call"})

    def __init__(self, vector_stores: VectorStoreService) -> None:
        self.vector_stores = vector_stores

    @classmethod
    def start(cls, setup: ToolSetup) -> FileSearchKind:
        return cls(setup.vector_stores)

    @classmethod
    def key(cls, tool: Any) -> str:
        return FUNCTION_NAME

    @classmethod
    def visible(cls, item: Item, include: list[str]) -> Item:
        return item if INCLUDE_RESULTS in include else {**item, "results": None}

    @classmethod
    def as_written(cls, text: str, annotations: list[dict[str, Any]]) -> str:
        return with_markers(text, annotations)

    @classmethod
    def replayer(cls) -> Replayer:
        return replayed

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        """The first ``file_search`` tool runs the searches; its vector stores must exist."""
        if not request.entries:
            return None
        position, tool = request.entries[0]
        for store_id in tool.vector_store_ids:
            if await self.vector_stores.store.get(store_id) is None:
                raise NotFound(f"Vector store '{store_id[:140]}' not found.",
                               param=f"tools[{position}].vector_store_ids", code="vector_store_not_found")
        citations = FileCitations()
        return PreparedTools(functions={position: [KNOWLEDGE_SEARCH] for position, _ in request.entries},
                             runner=FileSearchRunner(self.vector_stores, tool, citations), citations=citations)
