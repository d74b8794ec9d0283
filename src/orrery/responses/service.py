"""Create, retrieve, list and delete responses; everything checkable is checked before streaming."""

from __future__ import annotations

import time
from typing import Any

from orrery.conversations.service import ConversationService
from orrery.errors import InvalidRequest, NotFound
from orrery.ids import new_id
from orrery.inference.router import ModelRouter
from orrery.inference.tokens import TokenCount
from orrery.responses.context_fit import fit
from orrery.responses.convert import chat_request_body, items_to_messages
from orrery.responses.orchestrator import ChatStreamer, ResponseRun
from orrery.sealing import Sealer
from orrery.store.common import Order
from orrery.store.conversations import ConversationHold
from orrery.store.responses import ResponseStore, StoredResponse
from orrery.tools.registry import visible_item
from orrery.tools.toolset import ToolRegistry, Toolset
from orrery.wire import objects
from orrery.wire.responses import CountInputTokensRequest, CreateResponseRequest
from orrery.wire.shapes import ListPage

NOT_READY = ("queued", "in_progress")


def _check_context(request: CreateResponseRequest) -> None:
    if request.conversation_id is not None and request.previous_response_id is not None:
        raise InvalidRequest("Mutually exclusive parameters: 'conversation' and 'previous_response_id'. "
                             "Provide one of them, not both.", param="conversation",
                             code="mutually_exclusive_parameters")


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
        output=[visible_item(item, include) for item in output],
        usage=stored.usage,
        error=stored.error,
        incomplete_details=stored.incomplete_details,
        completed_at=stored.completed_at_us // 1_000_000 if stored.completed_at_us else None,
    )


class ResponseService:
    def __init__(self, router: ModelRouter, store: ResponseStore, conversations: ConversationService,
                 tools: ToolRegistry, sealer: Sealer, reasoning_history: frozenset[str] = frozenset()) -> None:
        """``sealer``: seals and opens ``encrypted_content``; ``reasoning_history``: the providers
        shown the reasoning of earlier turns."""
        self.router = router
        self.store = store
        self.conversations = conversations
        self.tools = tools
        self.sealer = sealer
        self.reasoning_history = reasoning_history

    async def create(self, request: CreateResponseRequest) -> ResponseRun:
        """Check everything checkable and prepare the run; its stream has not started.

        A stored response in a conversation holds the conversation from here on: if anything
        fails before the run exists, the hold is released here; after, the run releases it.
        """
        if request.background:
            raise InvalidRequest("Background responses are not supported by this server yet.",
                                 param="background", code="unsupported_parameter")
        _check_context(request)
        provider, upstream_model = self.router.resolve(request.model)
        response_id = new_id("resp")
        input_items = self._unsealed(await self._referenced(_input_items(request), request.conversation_id))
        hold, history = await self._context(request, response_id)
        try:
            return await self._prepared_run(request, response_id, provider, upstream_model, input_items, history,
                                            hold)
        except BaseException:
            if hold is not None:
                hold.release()
            raise

    def _unsealed(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reasoning items with the reasoning their ``encrypted_content`` holds as their ``content``
        (kept sealed too, as the client sent it)."""
        for position, item in enumerate(items):
            if item.get("type") != "reasoning" or not item.get("encrypted_content"):
                continue
            sealed = self.sealer.open(item["encrypted_content"])
            if sealed is None or not isinstance(sealed.get("text"), str):
                raise InvalidRequest("The encrypted content of this reasoning item could not be verified: it was "
                                     "not sealed by this server, or it was changed.",
                                     param=f"input[{position}].encrypted_content", code="invalid_encrypted_content")
            if not item.get("content"):
                items[position] = {**item, "content": [{"type": "reasoning_text", "text": sealed["text"]}]}
        return items

    async def _referenced(self, items: list[dict[str, Any]], conversation_id: str | None) -> list[dict[str, Any]]:
        """The input with each ``item_reference`` replaced by the stored item it names: an item of
        any stored response, or of the request's conversation."""
        ids = [item["id"] for item in items if item.get("type") == "item_reference"]
        if not ids:
            return items
        found = await self.store.items_by_id(ids)
        missing = [item_id for item_id in ids if item_id not in found]
        if missing and conversation_id is not None:
            found |= await self.conversations.store.items_by_id(conversation_id, missing)
        for position, item in enumerate(items):
            if item.get("type") == "item_reference" and item["id"] not in found:
                raise InvalidRequest(f"Item with id '{item['id']}' not found.", param=f"input[{position}].id",
                                     code="item_not_found")
        return [found[item["id"]] if item.get("type") == "item_reference" else item for item in items]

    async def _context(self, request: CreateResponseRequest,
                       response_id: str) -> tuple[ConversationHold | None, list[dict[str, Any]]]:
        """The response's hold on its conversation (stored responses in one), and its history."""
        conversation_id = request.conversation_id
        if conversation_id is None:
            return None, await self._history(request.previous_response_id)
        if not request.store:
            return None, await self.conversations.history_for(conversation_id)
        return await self.conversations.hold_for(conversation_id, response_id)

    async def count_input_tokens(self, counted: CountInputTokensRequest) -> TokenCount:
        """The prompt tokens of what a create with these fields would send upstream, counted by the
        provider (no generation); it reads the chain or conversation, holds nothing, stores nothing."""
        request = counted.as_create()
        _check_context(request)
        provider, upstream_model = self.router.resolve(request.model)
        input_items = self._unsealed(await self._referenced(_input_items(request), request.conversation_id))
        _, history = await self._context(request, new_id("resp"))
        _, chat_body = await self._upstream_body(request, provider, upstream_model, input_items, history)
        return await provider.count_tokens(chat_body)

    async def _upstream_body(self, request: CreateResponseRequest, provider: ChatStreamer, upstream_model: str,
                             input_items: list[dict[str, Any]],
                             history: list[dict[str, Any]]) -> tuple[Toolset, dict[str, Any]]:
        """The request's tools, and the chat-completions body that shows the model the history and input."""
        toolset = await self.tools.prepare(request.tools or [], history, input_items)
        messages = items_to_messages(request.instructions, history, input_items,
                                     history_in_parts=request.conversation_id is not None,
                                     reasoning=provider.id in self.reasoning_history,
                                     function_name=toolset.client_function_name)
        return toolset, chat_request_body(request, upstream_model, messages, toolset.functions)

    async def _prepared_run(self, request: CreateResponseRequest, response_id: str, provider: ChatStreamer,
                            upstream_model: str, input_items: list[dict[str, Any]], history: list[dict[str, Any]],
                            hold: ConversationHold | None) -> ResponseRun:
        toolset, chat_body = await self._upstream_body(request, provider, upstream_model, input_items, history)
        truncate = request.truncation == "auto"
        window = await provider.context_window(upstream_model, discover=truncate)
        if window is not None:
            await fit(chat_body, provider.count_tokens, window - (request.max_output_tokens or 0), truncate=truncate)
        conversation_id = request.conversation_id
        params = objects.response_params(request)
        created_at_us = time.time_ns() // 1000
        record = None
        if request.store:
            record = self.store.begin(
                response_id=response_id, created_at_us=created_at_us, params=params, input_items=input_items,
                hold=hold,
                conversation_input=[objects.input_item_view(item) for item in input_items] if conversation_id
                else None,
            )
        return ResponseRun(
            response_id=response_id,
            created_at_us=created_at_us,
            params=params,
            provider=provider,
            chat_body=chat_body,
            record=record,
            include_logprobs=bool(request.include and "message.output_text.logprobs" in request.include),
            toolset=toolset,
            seal=self.sealer.seal if request.include and "reasoning.encrypted_content" in request.include else None,
        )

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

    async def list_page(self, *, after: str | None, limit: int, order: Order, model: str | None) -> ListPage:
        rows, has_more = await self.store.list_page(after=after, limit=limit, order=order, model=model)
        return objects.list_page([_response_view(stored, output) for stored, output in rows], has_more)

    async def delete(self, response_id: str) -> dict[str, Any]:
        if not await self.store.delete(response_id):
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, response_id: str, *, after: str | None, limit: int, order: Order,
                          include: list[str]) -> ListPage:
        page = await self.store.input_items(response_id, after=after, limit=limit, order=order)
        if page is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return objects.list_page([visible_item(objects.input_item_view(item), include) for item in page.data],
                                 page.has_more)
