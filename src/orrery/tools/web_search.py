"""The ``web_search`` tool: offered to the model as the function ``web_search``, answered by a
Tavily-compatible search API, each call shown as a ``web_search_call`` item.

Results are kept on the stored item (``results``, shown with ``include=["web_search_call.results"]``)
so a later turn can show the model what it read; the pages' URLs are the item's
``action.sources`` (shown with ``include=["web_search_call.action.sources"]``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal, get_args

import httpx2
from pydantic import Field

from orrery.config import WebSearchConfig
from orrery.inference.errors import upstream_message
from orrery.tools.base import (
    ChatFunction,
    Item,
    ModelCall,
    PreparedTools,
    Replay,
    Replayer,
    RequestTools,
    ToolError,
    ToolEvent,
    ToolInvocation,
    ToolKind,
    ToolSetup,
    ToolTransport,
    query_call,
    string_argument,
)
from orrery.wire.common import Identifier, LenientModel, StrictModel

log = logging.getLogger(__name__)

FUNCTION_NAME = "web_search"
ITEM_PREFIX = "ws_"
PROVIDER = "tavily"
RESULTS_PER_SEARCH = {"low": 3, "medium": 5, "high": 10}
"""How many pages a search returns, by the tool's ``search_context_size`` (default medium)."""

INCLUDE_RESULTS = "web_search_call.results"
INCLUDE_SOURCES = "web_search_call.action.sources"

WEB_SEARCH: ChatFunction = {
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

WebSearchType = Literal["web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"]


class WebSearchFilters(LenientModel):
    allowed_domains: list[str] | None = Field(default=None, max_length=100)


class UserLocation(LenientModel):
    type: Literal["approximate"] | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchTool(StrictModel):
    type: WebSearchType
    filters: WebSearchFilters | None = None
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: UserLocation | None = None
    external_web_access: bool | None = None
    search_content_types: list[Literal["text", "image"]] | None = None


class WebSearchAction(LenientModel):
    type: Literal["search", "open_page", "find_in_page"]
    query: str | None = None


class WebSearchPage(LenientModel):
    url: str
    title: str | None = None
    content: str | None = None


class WebSearchCallItem(LenientModel):
    """A ``web_search_call`` sent back by the client (``results`` are ours, kept by a stored item)."""

    type: Literal["web_search_call"]
    id: Identifier
    status: str
    action: WebSearchAction
    results: list[WebSearchPage] | None = None


def answer_text(item: Item) -> str:
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


def replayed(item: Item) -> Replay:
    """A stored ``web_search_call`` as the model's call and the tool message it was answered with."""
    query = item["action"].get("query") or ""
    call = query_call(item["id"].removeprefix(ITEM_PREFIX), FUNCTION_NAME, query)
    return Replay(calls=((call, answer_text(item)),))


def url_citations(text: str, pages: dict[str, str]) -> list[dict[str, Any]]:
    """``url_citation`` annotations for the markdown links in ``text`` to pages a search found."""
    return [{"type": "url_citation", "start_index": match.start(), "end_index": match.end(),
             "url": match.group(2), "title": pages[match.group(2)]}
            for match in MARKDOWN_LINK.finditer(text) if match.group(2) in pages]


class SearchApiTransport:
    """The search API itself: ``POST {base_url}/search`` with the invocation's kwargs."""

    def __init__(self, config: WebSearchConfig) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx2.AsyncClient(base_url=config.base_url, headers=headers,
                                        timeout=httpx2.Timeout(config.timeout, connect=10.0))
        self._timeout = config.timeout

    async def invoke(self, invocation: ToolInvocation) -> list[dict[str, Any]]:
        try:
            response = await self._http.post("/search", json=invocation.kwargs)
        except httpx2.TimeoutException as exc:
            raise ToolError(f"the web search API did not answer within {self._timeout:g} s") from exc
        except httpx2.HTTPError as exc:
            raise ToolError(f"could not reach the web search API: {type(exc).__name__}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise ToolError(f"the web search API answered {response.status_code}: "
                            f"{upstream_message(data, response.reason_phrase)}")
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ToolError("the web search API answered without a list of results")
        return [{"title": str(r.get("title") or r.get("url")), "url": str(r["url"]),
                 "content": str(r.get("content") or "")}
                for r in results if isinstance(r, dict) and r.get("url")]

    async def aclose(self) -> None:
        await self._http.aclose()


class WebSearchClient:
    """Searches through the search API's transport, shared by every request."""

    def __init__(self, transport: ToolTransport) -> None:
        self._transport = transport

    async def search(self, query: str, *, max_results: int, allowed_domains: list[str] | None) -> list[dict[str, Any]]:
        """Pages as ``{"title", "url", "content"}``; a failure raises ``ToolError``."""
        kwargs: dict[str, Any] = {"query": query, "max_results": max_results}
        if allowed_domains:
            kwargs["include_domains"] = allowed_domains
        results: list[dict[str, Any]] = await self._transport.invoke(ToolInvocation(PROVIDER, FUNCTION_NAME, kwargs))
        return results


class WebPages:
    """URL → title of every page a search of this response found so far: what the answer may cite."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def stream_filter(self) -> None:
        return None

    def annotations(self, text: str) -> list[dict[str, Any]]:
        return url_citations(text, self.pages) if self.pages else []


class WebSearchRunner:
    """Answers the model's ``web_search`` calls for one request's ``web_search`` tool."""

    def __init__(self, client: WebSearchClient, tool: WebSearchTool, pages: WebPages) -> None:
        self.client = client
        self.max_results = RESULTS_PER_SEARCH[tool.search_context_size or "medium"]
        self.allowed_domains = tool.filters.allowed_domains if tool.filters else None
        self.pages = pages

    def offers(self, function_name: str) -> bool:
        return function_name == FUNCTION_NAME

    def start_item(self, call: ModelCall) -> Item:
        """The item id carries the model's tool-call id, to rebuild the turn later."""
        return {"id": ITEM_PREFIX + call.call_id, "type": "web_search_call", "status": "in_progress",
                "action": {"type": "search", "query": string_argument(call.arguments, "query")}}

    async def run(self, call: ModelCall, item: Item) -> AsyncIterator[ToolEvent]:
        yield "response.web_search_call.in_progress", {}
        yield "response.web_search_call.searching", {}
        query = item["action"]["query"]
        try:
            results = await self.client.search(query, max_results=self.max_results,
                                               allowed_domains=self.allowed_domains)
        except ToolError as exc:
            log.warning("web search for %r failed: %s", query, exc)
            item["status"], item["results"] = "failed", []
            return
        item["status"], item["results"] = "completed", results
        item["action"]["sources"] = [{"type": "url", "url": r["url"]} for r in results]
        self.pages.pages.update((r["url"], r["title"]) for r in results)
        yield "response.web_search_call.completed", {}

    def answer(self, item: Item) -> Any:
        return answer_text(item)


class WebSearchKind(ToolKind):
    """Runs on the configured search API; without one, the tool is not offered to the model."""

    tool_types: ClassVar[tuple[str, ...]] = get_args(WebSearchType)
    tool_model = WebSearchTool
    item_models = (WebSearchCallItem,)
    call_item_types = frozenset({"web_search_call"})

    def __init__(self, api: SearchApiTransport | None, client: WebSearchClient | None) -> None:
        self.api = api
        self.client = client
        self._warned = False

    @classmethod
    def start(cls, setup: ToolSetup) -> WebSearchKind:
        config = setup.settings.web_search
        if config is None:
            return cls(None, None)
        api = SearchApiTransport(config)
        return cls(api, WebSearchClient(setup.wrap_transport(api)))

    async def aclose(self) -> None:
        if self.api is not None:
            await self.api.aclose()

    @classmethod
    def key(cls, tool: Any) -> str:
        return FUNCTION_NAME

    @classmethod
    def visible(cls, item: Item, include: list[str]) -> Item:
        shown = item if INCLUDE_RESULTS in include else {k: v for k, v in item.items() if k != "results"}
        action = item.get("action") or {}
        if "sources" in action and INCLUDE_SOURCES not in include:
            shown = {**shown, "action": {k: v for k, v in action.items() if k != "sources"}}
        return shown

    @classmethod
    def replayer(cls) -> Replayer:
        return replayed

    async def prepare(self, request: RequestTools) -> PreparedTools | None:
        """The first web search tool sets how searches run. Without a search API the tool is left
        out of what the model sees (clients such as the Codex CLI offer it by default), and the
        response still lists it."""
        if not request.entries:
            return None
        if self.client is None:
            self._warn_unconfigured()
            return None
        position, tool = request.entries[0]
        pages = WebPages()
        return PreparedTools(functions={position: [WEB_SEARCH] for position, _ in request.entries},
                             runner=WebSearchRunner(self.client, tool, pages), citations=pages)

    def _warn_unconfigured(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning("a request offers the web_search tool, but no web search API is configured: the model "
                        "is not shown the tool (set ORRERY_WEB_SEARCH_API_KEY, or 'web_search' in the config file)")
