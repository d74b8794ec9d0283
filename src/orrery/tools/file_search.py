"""The ``file_search`` tool: offered to the model as the function ``knowledge_search``, its results
shown back as one ``tool`` message, in exactly the shapes of the seed recordings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, AsyncIterator

from orrery.tools.base import ModelCall, ToolEvent, query_argument, query_call

if TYPE_CHECKING:
    from orrery.vectors.service import VectorStoreService
    from orrery.wire.requests import FileSearchTool

log = logging.getLogger(__name__)

FUNCTION_NAME = "knowledge_search"
ITEM_PREFIX = "fs_"
DEFAULT_MAX_RESULTS = 10

KNOWLEDGE_SEARCH = {
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


def replayed_call(item: dict[str, Any]) -> tuple[ModelCall, Any]:
    """A stored ``file_search_call`` as the model's call and the tool message it was answered with."""
    query = (item.get("queries") or [""])[0]
    call = query_call(item["id"].removeprefix(ITEM_PREFIX), FUNCTION_NAME, query)
    return call, tool_result_parts(query, item.get("results") or [])


class FileSearchRunner:
    """Answers the model's ``knowledge_search`` calls from the request's ``file_search`` tool."""

    def __init__(self, vector_stores: VectorStoreService, tool: FileSearchTool) -> None:
        self.vector_stores = vector_stores
        self.tool = tool
        self.filenames: dict[str, str] = {}
        """Every file a search found so far: what the model may cite."""

    def offers(self, function_name: str) -> bool:
        return function_name == FUNCTION_NAME

    def start_item(self, call: ModelCall) -> dict[str, Any]:
        """The item id carries the model's tool-call id, to rebuild the turn later."""
        return {"id": ITEM_PREFIX + call.call_id, "type": "file_search_call", "status": "in_progress",
                "queries": [query_argument(call.arguments)], "results": None}

    async def run(self, call: ModelCall, item: dict[str, Any]) -> AsyncIterator[ToolEvent]:
        yield "response.file_search_call.in_progress", {}
        yield "response.file_search_call.searching", {}
        try:
            item["results"] = await self.search(item["queries"][0])
        except Exception:
            log.exception("file search for %r failed", item["queries"][0])
            item["results"], item["status"] = [], "failed"
            return
        item["status"] = "completed"
        self.filenames.update((r["file_id"], r["filename"]) for r in item["results"])
        yield "response.file_search_call.completed", {}

    def answer(self, item: dict[str, Any]) -> Any:
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
