"""The ``web_search`` tool: offered to the model as the function ``web_search``, answered by a
Tavily-compatible search API, each call shown as a ``web_search_call`` item.

Results are kept on the stored item (``results``, shown with ``include=["web_search_call.results"]``)
so a later turn can show the model what it read; the pages' URLs are the item's
``action.sources`` (shown with ``include=["web_search_call.action.sources"]``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, AsyncIterator

import httpx2

from orrery.config import WebSearchConfig
from orrery.inference.errors import upstream_message
from orrery.recording.tools import ToolInvocationError, ToolRecorder, invoke
from orrery.tools.base import ModelCall, ToolEvent, query_argument, query_call
from orrery.wire.requests import WebSearchTool

log = logging.getLogger(__name__)

FUNCTION_NAME = "web_search"
ITEM_PREFIX = "ws_"
PROVIDER = "tavily"
RESULTS_PER_SEARCH = {"low": 3, "medium": 5, "high": 10}
"""How many pages a search returns, by the tool's ``search_context_size`` (default medium)."""

WEB_SEARCH = {
    "type": "function",
    "function": {
        "name": FUNCTION_NAME,
        "description": "Search the web for up-to-date information.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The search query."}},
            "required": ["query"],
        },
    },
}

MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\((https?://[^\s)]+)\)")


def answer_text(item: dict[str, Any]) -> str:
    """What the model reads for a finished search."""
    query = item["action"].get("query") or ""
    if item["status"] != "completed":
        return f'The web search for "{query}" failed; no results are available.'
    results = item.get("results") or []
    lines = [f'{FUNCTION_NAME} found {len(results)} results for "{query}":']
    for number, result in enumerate(results, start=1):
        url = result["url"]
        lines.append(f"[{number}] {result.get('title') or url} ({url})\n{result.get('content') or ''}")
    lines.append("Cite the pages you use as markdown links to their URLs, e.g. [title](url).")
    return "\n\n".join(lines)


def replayed_call(item: dict[str, Any]) -> tuple[ModelCall, Any]:
    """A stored ``web_search_call`` as the model's call and the tool message it was answered with."""
    query = item["action"].get("query") or ""
    call = query_call(item["id"].removeprefix(ITEM_PREFIX), FUNCTION_NAME, query)
    return call, answer_text(item)


def url_citations(text: str, pages: dict[str, str]) -> list[dict[str, Any]]:
    """``url_citation`` annotations for the markdown links in ``text`` to pages a search found."""
    return [{"type": "url_citation", "start_index": match.start(), "end_index": match.end(),
             "url": match.group(2), "title": pages[match.group(2)]}
            for match in MARKDOWN_LINK.finditer(text) if match.group(2) in pages]


class WebSearchClient:
    """The search API, shared by every request, behind the tool recorder when there is one."""

    def __init__(self, config: WebSearchConfig, recorder: ToolRecorder | None) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx2.AsyncClient(base_url=config.base_url, headers=headers,
                                        timeout=httpx2.Timeout(config.timeout, connect=10.0))
        self._timeout = config.timeout
        self._recorder = recorder

    async def search(self, query: str, *, max_results: int, allowed_domains: list[str] | None) -> list[dict[str, Any]]:
        """Pages as ``{"title", "url", "content"}``; a failure raises ``ToolInvocationError``."""
        kwargs: dict[str, Any] = {"query": query, "max_results": max_results}
        if allowed_domains:
            kwargs["include_domains"] = allowed_domains
        return await invoke(self._recorder, PROVIDER, FUNCTION_NAME, kwargs, lambda: self._request(kwargs))

    async def _request(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._http.post("/search", json=body)
        except httpx2.TimeoutException as exc:
            raise ToolInvocationError(f"the web search API did not answer within {self._timeout:g} s") from exc
        except httpx2.HTTPError as exc:
            raise ToolInvocationError(f"could not reach the web search API: {type(exc).__name__}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise ToolInvocationError(f"the web search API answered {response.status_code}: "
                                      f"{upstream_message(data, response.reason_phrase)}")
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ToolInvocationError("the web search API answered without a list of results")
        return [{"title": str(r.get("title") or r.get("url")), "url": str(r["url"]),
                 "content": str(r.get("content") or "")}
                for r in results if isinstance(r, dict) and r.get("url")]

    async def aclose(self) -> None:
        await self._http.aclose()


class WebSearchRunner:
    """Answers the model's ``web_search`` calls for one request's ``web_search`` tool."""

    def __init__(self, client: WebSearchClient, tool: WebSearchTool) -> None:
        self.client = client
        self.max_results = RESULTS_PER_SEARCH[tool.search_context_size or "medium"]
        self.allowed_domains = tool.filters.allowed_domains if tool.filters else None
        self.pages: dict[str, str] = {}
        """URL → title of every page a search found so far: what the answer may cite."""

    def offers(self, function_name: str) -> bool:
        return function_name == FUNCTION_NAME

    def start_item(self, call: ModelCall) -> dict[str, Any]:
        """The item id carries the model's tool-call id, to rebuild the turn later."""
        return {"id": ITEM_PREFIX + call.call_id, "type": "web_search_call", "status": "in_progress",
                "action": {"type": "search", "query": query_argument(call.arguments)}}

    async def run(self, call: ModelCall, item: dict[str, Any]) -> AsyncIterator[ToolEvent]:
        yield "response.web_search_call.in_progress", {}
        yield "response.web_search_call.searching", {}
        query = item["action"]["query"]
        try:
            results = await self.client.search(query, max_results=self.max_results,
                                               allowed_domains=self.allowed_domains)
        except ToolInvocationError as exc:
            log.warning("web search for %r failed: %s", query, exc)
            item["status"], item["results"] = "failed", []
            return
        item["status"], item["results"] = "completed", results
        item["action"]["sources"] = [{"type": "url", "url": r["url"]} for r in results]
        self.pages.update((r["url"], r["title"]) for r in results)
        yield "response.web_search_call.completed", {}

    def answer(self, item: dict[str, Any]) -> Any:
        return answer_text(item)
