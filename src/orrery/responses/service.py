"""Create, retrieve, list and delete responses; everything checkable is checked before streaming."""

from __future__ import annotations

import time
from typing import Any

from orrery.errors import APIError, InvalidRequest, NotFound
from orrery.ids import new_id
from orrery.inference.router import ModelRouter
from orrery.responses.convert import chat_request_body, items_to_messages
from orrery.responses.orchestrator import ResponseRun
from orrery.conversations.service import ConversationService
from orrery.store.common import Order
from orrery.store.responses import ResponseStore, StoredResponse
from orrery.recording.tools import ToolRecorder
from orrery.tools import mcp_setup
from orrery.tools.base import ServerTools
from orrery.tools.file_search import FileSearchRunner
from orrery.tools.web_search import WebSearchClient, WebSearchRunner
from orrery.vectors.service import VectorStoreService
from orrery.wire import objects
from orrery.wire.requests import CreateResponseRequest

NOT_READY = ("queued", "in_progress")


def _input_items(request: CreateResponseRequest) -> list[dict[str, Any]]:
    """The request's input as stored items, each with an id."""
    if isinstance(request.input, str):
        return [{"id": new_id("msg"), "type": "message", "role": "user", "content": request.input}]
    return [objects.stored_item(model) for model in request.input]


def _response_view(stored: StoredResponse, output: list[dict[str, Any]],
                   include: list[str] | None = None) -> dict[str, Any]:
    """``include``: what the client asks to see now, besides what the response was created with."""
    include = [*(stored.params.get("include") or []), *(include or [])]
    return objects.response_object(
        response_id=stored.id,
        created_at=stored.created_at_us // 1_000_000,
        status=stored.status,
        params=stored.params,
        output=[objects.visible_item(item, include) for item in output],
        usage=stored.usage,
        error=stored.error,
        incomplete_details=stored.incomplete_details,
        completed_at=stored.completed_at_us // 1_000_000 if stored.completed_at_us else None,
    )


class ResponseService:
    def __init__(self, router: ModelRouter, store: ResponseStore, conversations: ConversationService,
                 vector_stores: VectorStoreService, web_search: WebSearchClient | None = None,
                 tool_recorder: ToolRecorder | None = None) -> None:
        """``web_search``: the search API behind the ``web_search`` tool, ``None`` when none is
        configured; ``tool_recorder``: records and replays MCP calls, ``None`` in live mode."""
        self.router = router
        self.web_search = web_search
        self.tool_recorder = tool_recorder
        self.store = store
        self.conversations = conversations
        self.vector_stores = vector_stores

    async def create(self, request: CreateResponseRequest) -> ResponseRun:
        if request.background:
            raise InvalidRequest("Background responses are not supported by this server yet.",
                                 param="background", code="unsupported_parameter")
        conversation_id = request.conversation_id
        if conversation_id is not None and request.previous_response_id is not None:
            raise InvalidRequest("Mutually exclusive parameters: 'conversation' and 'previous_response_id'. "
                                 "Provide one of them, not both.", param="conversation",
                                 code="mutually_exclusive_parameters")
        provider, upstream_model = self.router.resolve(request.model)
        file_search = await self._file_search(request)
        web_search = self._web_search(request)
        response_id = new_id("resp")
        input_items = _input_items(request)
        if conversation_id is None:
            history = await self._history(request.previous_response_id)
        else:
            history = await self.conversations.history_for(conversation_id, response_id if request.store else None)
        try:
            mcp = await mcp_setup.prepare(request, history, input_items, self.tool_recorder)
        except BaseException:
            if conversation_id is not None and request.store:
                self.conversations.store.release(conversation_id, response_id)
            raise
        server_tools = ServerTools([tool for tool in (file_search, web_search, mcp.runner) if tool is not None])
        messages = items_to_messages(request.instructions, history, input_items,
                                     history_in_parts=conversation_id is not None)
        chat_body = chat_request_body(request, upstream_model, messages, mcp.chat_functions)
        params = objects.response_params(request)
        created_at_us = time.time_ns() // 1000
        recorder = None
        if request.store:
            recorder = self.store.begin(
                response_id=response_id, created_at_us=created_at_us, params=params, input_items=input_items,
                conversation_id=conversation_id,
                conversation_input=[objects.input_item_view(item) for item in input_items] if conversation_id
                else None,
            )
        return ResponseRun(
            response_id=response_id,
            created_at_us=created_at_us,
            params=params,
            provider=provider,
            chat_body=chat_body,
            recorder=recorder,
            include_logprobs=bool(request.include and "message.output_text.logprobs" in request.include),
            server_tools=server_tools,
            citable_files=file_search.filenames if file_search is not None else None,
            citable_pages=web_search.pages if web_search is not None else None,
            listings=mcp.listings,
            opening_calls=mcp.opening_calls,
        )

    async def _file_search(self, request: CreateResponseRequest) -> FileSearchRunner | None:
        """The runner of the request's ``file_search`` tool; its vector stores must exist."""
        for position, tool in enumerate(request.tools or []):
            if tool.type == "file_search":
                for store_id in tool.vector_store_ids:
                    if await self.vector_stores.store.get(store_id) is None:
                        raise NotFound(f"Vector store '{store_id[:140]}' not found.",
                                       param=f"tools[{position}].vector_store_ids", code="vector_store_not_found")
                return FileSearchRunner(self.vector_stores, tool)
        return None

    def _web_search(self, request: CreateResponseRequest) -> WebSearchRunner | None:
        """The runner of the request's web search tool, if the server has a search API to run it."""
        for position, tool in enumerate(request.tools or []):
            if tool.type.startswith("web_search"):
                if self.web_search is None:
                    raise InvalidRequest(
                        "The web_search tool is not available: this server has no web search API configured "
                        "(set ORRERY_WEB_SEARCH_API_KEY, or 'web_search' in the config file).",
                        param=f"tools[{position}]", code="unsupported_tool")
                return WebSearchRunner(self.web_search, tool)
        return None

    async def _history(self, previous_response_id: str | None) -> list[dict[str, Any]]:
        if previous_response_id is None:
            return []
        found = await self.store.get_status_and_history(previous_response_id)
        if found is None:
            raise NotFound(f"Previous response with id '{previous_response_id}' not found.",
                           param="previous_response_id", code="previous_response_not_found")
        status, history = found
        if status in NOT_READY:
            raise InvalidRequest(
                f"Previous response '{previous_response_id}' is still {status}; wait until it finishes.",
                param="previous_response_id", code="previous_response_not_ready",
            )
        return history

    async def retrieve(self, response_id: str, include: list[str]) -> dict[str, Any]:
        found = await self.store.get(response_id)
        if found is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return _response_view(*found, include)

    async def list(self, *, after: str | None, limit: int, order: Order, model: str | None) -> dict[str, Any]:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order, model=model)
        return objects.list_page([_response_view(stored, output) for stored, output in rows], has_more)

    async def delete(self, response_id: str) -> dict[str, Any]:
        if not await self.store.delete(response_id):
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, response_id: str, *, after: str | None, limit: int, order: Order,
                          include: list[str]) -> dict[str, Any]:
        page = await self.store.input_items(response_id, after=after, limit=limit, order=order)
        if page is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return objects.list_page([objects.visible_item(objects.input_item_view(item), include) for item in page.data],
                                 page.has_more)


def failure_error(run: ResponseRun) -> APIError:
    """The HTTP error a non-streaming create answers with when its run failed upstream."""
    assert run.failure is not None
    failure = run.failure
    return APIError(
        f"Response {run.response_id} failed: {failure.message}",
        status_code=failure.http_status,
        error_type="invalid_request_error" if failure.http_status < 500 else "server_error",
        code=failure.response_error_code,
        headers={"x-response-id": run.response_id},
    )
